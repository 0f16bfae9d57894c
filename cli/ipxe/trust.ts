// The roots a build trusts (TRUST=) and carries in its certificate store (CERT=): from the
// operator's PEM files and, with --trust-google, from Debian's ca-certificates by subject; beside
// them the cross-signed forms of those roots that a trust file or the front door's chain holds.
import { X509Certificate, createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { chainCert, ipxeChainVerdict, isCrossSignedFormOf, isSelfSigned, type ChainCert } from './anchors';
import { pemCertificates, probeDoorChain } from './door';
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
  /** Its issuer, the same as subject for a root. */
  issuer: string;
  /** Set on a cross-signed form: the trusted root whose name and key it carries. */
  crossSignedFormOf?: { subject: string; sha256: string };
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

function subjectOf(cert: X509Certificate): string {
  return cert.subject.split('\n').join(', ');
}

/** Every certificate in a PEM text (a bundle may hold several), in order. */
export function parsePemBundle(text: string, source: string): TrustedRoot[] {
  const blocks = pemCertificates(text, source);
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
      issuer: cert.issuer.split('\n').join(', '),
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

/**
 * The roots of a build: files first, then Google's, each fingerprint once; none is a refusal. A
 * certificate in a trust file that is not self-signed is accepted only as a cross-signed form of
 * a root the build trusts (same subject and key), listed after the roots.
 */
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
  const unique = all.filter((r) => (seen.has(r.sha256) ? false : (seen.add(r.sha256), true))).map((r) => ({ r, c: chainCert(r.pem) }));
  const roots = unique.filter((x) => isSelfSigned(x.c));
  const forms = unique.filter((x) => !isSelfSigned(x.c)).map(({ r, c }) => {
    const root = roots.find((y) => isCrossSignedFormOf(c, y.c));
    if (!root) {
      throw new IpxeBuildError(
        `${r.source}: ${r.subject} (issued by ${r.issuer}) is not self-signed, and no root this build trusts has its subject and key. ` +
          'A trust file holds roots and cross-signed forms of them (a trusted root\'s name and key certified by another CA); ' +
          'building in an intermediate\'s fingerprint is a different thing (every chain through it accepted whatever its issuer), so it is refused: give the root it chains to',
        'usage',
      );
    }
    return { ...r, crossSignedFormOf: { subject: root.r.subject, sha256: root.r.sha256 } };
  });
  return [...roots.map((x) => x.r), ...forms];
}

/** Where the front door's chain comes from: read from the door itself, or given as PEM. */
export type DoorChainInput = { kind: 'probe'; url: string; timeoutMs?: number } | { kind: 'pem'; text: string; source: string };

export interface DoorCheck {
  /** How the chain was had (`probe https://HOST:PORT`, `--door-chain FILE`), or why there is none. */
  source: string;
  chain: { subject: string; issuer: string; sha256: string }[];
  /** What this build's iPXE will do with the chain; absent without a chain. */
  verdict?: { accepted: boolean; text: string };
}

export interface TrustPlan {
  /** What is built in (TRUST= and CERT=): the roots, then the cross-signed forms of them. */
  trust: TrustedRoot[];
  door: DoorCheck;
}

/**
 * The trust of a build: selectTrust's, plus any cross-signed form of a trusted root that the
 * front door serves (iPXE anchors only at a fingerprint it has: trusting root A does not accept
 * A certified by B, which is what Google's front ends send); then the door's chain checked as
 * iPXE 2.0.0 will check it (anchors.ts).
 */
export async function planTrust(opts: Parameters<typeof selectTrust>[0] & { door?: DoorChainInput; now?: Date }): Promise<TrustPlan> {
  const trust = selectTrust(opts);
  if (!opts.door) return { trust, door: { source: 'not checked', chain: [] } };
  let pems: string[];
  let source: string;
  if (opts.door.kind === 'pem') {
    pems = pemCertificates(opts.door.text, opts.door.source);
    source = opts.door.source;
  } else {
    source = `probe ${opts.door.url}`;
    try {
      pems = (await probeDoorChain(opts.door.url, opts.door.timeoutMs)).map((der) => new X509Certificate(der).toString());
    } catch (e) {
      return { trust, door: { source: `not reached (${(e as Error).message})`, chain: [] } };
    }
  }
  let served: ChainCert[];
  try {
    served = pems.map((pem) => chainCert(pem));
  } catch (e) {
    throw new IpxeBuildError(`${source}: a certificate of the door's chain does not parse: ${(e as Error).message}`, 'usage');
  }
  const roots = trust.filter((t) => !t.crossSignedFormOf).map((r) => ({ r, c: chainCert(r.pem) }));
  served.forEach((c, i) => {
    if (trust.some((t) => t.sha256 === c.sha256)) return;
    const root = roots.find((y) => isCrossSignedFormOf(c, y.c));
    if (!root) return;
    trust.push({
      subject: c.subject,
      issuer: c.issuer,
      sha256: c.sha256,
      source: `${source} #${i + 1}`,
      pem: `${c.x509.toString().trim()}\n`,
      crossSignedFormOf: { subject: root.r.subject, sha256: root.r.sha256 },
    });
  });
  const verdict = ipxeChainVerdict(served, { trusted: new Set(trust.map((t) => t.sha256)), store: trust.map((t) => chainCert(t.pem)), now: opts.now });
  const text = verdict.anchored
    ? `accepted: the chain anchors at ${verdict.anchor.subject} (sha256 ${verdict.anchor.sha256}, ${verdict.anchorFrom === 'served' ? 'sent by the door' : "the issuer of the door's last certificate, from the build's store"})`
    : `REFUSED (iPXE error 0216eb3c, before any HTTP request): ${verdict.reason}`;
  return { trust, door: { source, chain: served.map(({ subject, issuer, sha256 }) => ({ subject, issuer, sha256 })), verdict: { accepted: verdict.anchored, text } } };
}

/** One line for a certificate built in, as the build prints it. */
export function describeTrust(t: TrustedRoot): string {
  if (!t.crossSignedFormOf) return `trusting ${t.subject} (sha256 ${t.sha256}) from ${t.source}`;
  return `trusting ${t.subject} issued by ${t.issuer} (sha256 ${t.sha256}) from ${t.source}: cross-signed form of ${t.crossSignedFormOf.subject} (sha256 ${t.crossSignedFormOf.sha256})`;
}

/** Lines for the door's check: where the chain came from, what it holds, the verdict. */
export function describeDoor(d: DoorCheck): string[] {
  if (!d.verdict) return [`front door's chain: ${d.source}; the build goes on without checking it`];
  return [
    `front door's chain (${d.source}): ${d.chain.map((c) => `${c.subject} [issued by ${c.issuer}]`).join(' <- ')}`,
    `front door's chain, as this build's iPXE will see it: ${d.verdict.text}`,
  ];
}
