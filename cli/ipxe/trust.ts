// The roots a build trusts (TRUST=) and carries in its certificate store (CERT=): from the
// operator's PEM files and, with --trust-google, from Debian's ca-certificates by subject.
import { X509Certificate, createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { IpxeBuildError } from './errors';

export interface TrustedRoot {
  /** The certificate's subject, RFC 4514 order reversed as OpenSSL prints it: `C=US, O=..., CN=...`. */
  subject: string;
  /** SHA-256 of the DER certificate, lowercase hex: the fingerprint iPXE's TRUST= embeds. */
  sha256: string;
  /** Where it came from: the PEM file (with its position when it held several) or the CA store file. */
  source: string;
  /** The certificate alone, PEM. */
  pem: string;
}

/** Debian's ca-certificates, one PEM file per root (the Mozilla set). */
export const DEBIAN_CA_DIR = '/usr/share/ca-certificates/mozilla';

/**
 * The roots Google's front ends chain to (pki.goog): GTS Root R1-R4, GlobalSign Root CA (it
 * cross-signs GTS Root R1, the chain served to old clients) and GlobalSign ECC Root CA - R4
 * (operated by Google). Matched by subject, not by file name.
 */
export const GOOGLE_ROOT_SUBJECTS: readonly string[] = [
  'C=US, O=Google Trust Services LLC, CN=GTS Root R1',
  'C=US, O=Google Trust Services LLC, CN=GTS Root R2',
  'C=US, O=Google Trust Services LLC, CN=GTS Root R3',
  'C=US, O=Google Trust Services LLC, CN=GTS Root R4',
  'C=BE, O=GlobalSign nv-sa, OU=Root CA, CN=GlobalSign Root CA',
  'OU=GlobalSign ECC Root CA - R4, O=GlobalSign, CN=GlobalSign',
];

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

function subjectOf(cert: X509Certificate): string {
  return cert.subject.split('\n').join(', ');
}

/** Every certificate in a PEM text (a bundle may hold several), in order. */
export function parsePemBundle(text: string, source: string): TrustedRoot[] {
  const blocks = text.match(PEM_BLOCK) ?? [];
  if (blocks.length === 0) throw new IpxeBuildError(`${source}: no PEM certificate (-----BEGIN CERTIFICATE-----) in it`, 'usage');
  return blocks.map((pem, i) => {
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(pem);
    } catch (e) {
      throw new IpxeBuildError(`${source}: certificate ${i + 1} does not parse: ${(e as Error).message}`, 'usage');
    }
    return {
      subject: subjectOf(cert),
      sha256: createHash('sha256').update(cert.raw).digest('hex'),
      source: blocks.length > 1 ? `${source} #${i + 1}` : source,
      pem: `${cert.toString().trim()}\n`,
    };
  });
}

export function readTrustFile(path: string): TrustedRoot[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new IpxeBuildError(`--trust ${path}: cannot read it (${(e as NodeJS.ErrnoException).code ?? String(e)})`, 'usage');
  }
  return parsePemBundle(text, path);
}

/** Google's roots from the CA store directory, each named; a missing one is an error that says which. */
export function googleRoots(caDir = DEBIAN_CA_DIR): TrustedRoot[] {
  let files: string[];
  try {
    files = readdirSync(caDir).filter((f) => f.endsWith('.crt')).sort();
  } catch {
    throw new IpxeBuildError(`--trust-google reads Debian's ca-certificates from ${caDir}, which is missing: apt-get install ca-certificates`, 'toolchain');
  }
  const bySubject = new Map<string, TrustedRoot>();
  for (const f of files) {
    const path = join(caDir, f);
    for (const root of parsePemBundle(readFileSync(path, 'utf8'), path)) {
      if (GOOGLE_ROOT_SUBJECTS.includes(root.subject) && !bySubject.has(root.subject)) bySubject.set(root.subject, root);
    }
  }
  const missing = GOOGLE_ROOT_SUBJECTS.filter((s) => !bySubject.has(s));
  if (missing.length) throw new IpxeBuildError(`--trust-google: ${caDir} lacks ${missing.join('; ')} (upgrade ca-certificates)`, 'toolchain');
  return GOOGLE_ROOT_SUBJECTS.map((s) => bySubject.get(s) as TrustedRoot);
}

/** The roots of a build: files first, then Google's, each fingerprint once; none is a refusal. */
export function selectTrust(opts: { trustFiles?: readonly string[]; trustPems?: readonly string[]; trustGoogle?: boolean; caDir?: string }): TrustedRoot[] {
  const all = [
    ...(opts.trustFiles ?? []).flatMap(readTrustFile),
    ...(opts.trustPems ?? []).flatMap((pem, i) => parsePemBundle(pem, `trust PEM ${i + 1}`)),
    ...(opts.trustGoogle ? googleRoots(opts.caDir) : []),
  ];
  if (all.length === 0) {
    throw new IpxeBuildError(
      'no trust given: a binary that trusts no root cannot load anything over HTTPS. Pass --trust ROOTS.pem (your front door\'s CA) and/or --trust-google (API Gateway, Storage redirects)',
      'usage',
    );
  }
  const seen = new Set<string>();
  return all.filter((r) => (seen.has(r.sha256) ? false : (seen.add(r.sha256), true)));
}
