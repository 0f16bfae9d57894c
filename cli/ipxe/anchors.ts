// What iPXE 2.0.0 will make of a certificate chain, computed on the build host: which certificates
// are another form of a trusted root, and where (if anywhere) a served chain anchors.
//
// Source: iPXE v2.0.0 src/crypto/x509.c (x509_auto_append, x509_validate_chain, x509_validate,
// x509_check_issuer, x509_check_time), src/crypto/certstore.c (certstore_init, certstore_add,
// certstore_found) and src/config/crypto.h (TIMESTAMP_ERROR_MARGIN), read in the vendored tarball.
import { X509Certificate, createHash } from 'node:crypto';

export interface ChainCert {
  x509: X509Certificate;
  /** SHA-256 of the DER certificate, lowercase hex (what TRUST= compares). */
  sha256: string;
  /** OpenSSL's one-line form, `C=US, O=..., CN=...`. */
  subject: string;
  issuer: string;
}

const oneLine = (name: string) => name.split('\n').join(', ');

export function chainCert(pemOrDer: string | Buffer): ChainCert {
  const x509 = new X509Certificate(pemOrDer);
  return { x509, sha256: createHash('sha256').update(x509.raw).digest('hex'), subject: oneLine(x509.subject), issuer: oneLine(x509.issuer) };
}

function sameKey(a: X509Certificate, b: X509Certificate): boolean {
  return a.publicKey.export({ type: 'spki', format: 'der' }).equals(b.publicKey.export({ type: 'spki', format: 'der' }));
}

/** Issuer named as itself and signed by its own key. */
export function isSelfSigned(c: ChainCert): boolean {
  return c.subject === c.issuer && c.x509.verify(c.x509.publicKey);
}

/**
 * A trust anchor is a name and a key (RFC 5280 section 6.1.1 (d)): a certificate that is not
 * self-signed but carries a root's subject and public key is that root certified by someone
 * else (a cross-signed form, as GTS Root R1 signed by GlobalSign Root CA). Names are compared as
 * node prints them, not as DER; CAs that cross-sign copy the subject's DER, which iPXE needs too.
 */
export function isCrossSignedFormOf(cert: ChainCert, root: ChainCert): boolean {
  return cert.sha256 !== root.sha256 && !isSelfSigned(cert) && cert.subject === root.subject && sameKey(cert.x509, root.x509);
}

/** iPXE's slack on validity periods (TIMESTAMP_ERROR_MARGIN: 12.5 hours). */
const TIME_MARGIN_MS = (12 * 60 + 30) * 60_000;

function timeProblem(c: ChainCert, now: Date): string | undefined {
  const t = now.getTime();
  if (new Date(c.x509.validFrom).getTime() > t + TIME_MARGIN_MS) return `${c.subject} is not valid before ${c.x509.validFrom}`;
  if (new Date(c.x509.validTo).getTime() < t - TIME_MARGIN_MS) return `${c.subject} expired ${c.x509.validTo}`;
  return undefined;
}

/** Why `issuer` cannot validate `cert` (x509_check_issuer, keyUsage not read: node does not expose it), or undefined. */
function issuerProblem(cert: ChainCert, issuer: ChainCert): string | undefined {
  if (cert.issuer !== issuer.subject) return `${cert.subject} names ${cert.issuer} as issuer, but the next certificate is ${issuer.subject}`;
  if (!issuer.x509.ca) return `${issuer.subject} is not a CA certificate`;
  if (!cert.x509.verify(issuer.x509.publicKey)) return `${cert.subject}'s signature does not verify with ${issuer.subject}'s key`;
  return undefined;
}

export type ChainVerdict =
  | { anchored: true; chain: ChainCert[]; appended: ChainCert[]; anchor: ChainCert; anchorFrom: 'served' | 'store' }
  | { anchored: false; chain: ChainCert[]; appended: ChainCert[]; reason: string };

/**
 * The chain as iPXE 2.0.0 validates it on a fresh boot: the served certificates, then from the
 * store (CERT=) the issuer of the last one, and of that one, by subject (x509_auto_append); then
 * the first certificate that is within its validity and whose own fingerprint is built in
 * (TRUST=) anchors, and each one before it must be issued by the next. Not modelled: OCSP (a
 * build with OCSP needs the responders at boot), path lengths, keyUsage, and certificates
 * validated by an earlier connection of the same boot.
 */
export function ipxeChainVerdict(served: readonly ChainCert[], build: { trusted: ReadonlySet<string>; store: readonly ChainCert[]; now?: Date }): ChainVerdict {
  const now = build.now ?? new Date();
  // certstore_init adds each CERT= certificate at the head (a duplicate once); parsing the served
  // chain adds each new certificate at the head, and a lookup moves what it found to the head.
  const store: ChainCert[] = [];
  const toFront = (c: ChainCert) => {
    const i = store.findIndex((s) => s.sha256 === c.sha256);
    if (i >= 0) store.splice(i, 1);
    store.unshift(c);
  };
  for (const c of build.store) if (!store.some((s) => s.sha256 === c.sha256)) store.unshift(c);
  for (const c of served) toFront(c);

  const chain = [...served];
  const appended: ChainCert[] = [];
  let cert = chain[chain.length - 1];
  if (!cert) return { anchored: false, chain, appended, reason: 'the server sent no certificate' };
  // iPXE stops when the lookup returns the certificate itself; a bound guards mutual cross-signs.
  for (let i = 0; i < 16; i++) {
    const previous: ChainCert = cert;
    const found = store.find((s) => s.subject === previous.issuer);
    if (!found) break;
    toFront(found);
    if (found.sha256 === previous.sha256) break;
    chain.push(found);
    appended.push(found);
    cert = found;
  }

  const skipped: string[] = [];
  for (let i = 0; i < chain.length; i++) {
    const c = chain[i] as ChainCert;
    const late = timeProblem(c, now);
    if (late) {
      skipped.push(late);
      continue;
    }
    if (!build.trusted.has(c.sha256)) continue;
    for (let j = i - 1; j >= 0; j--) {
      const below = chain[j] as ChainCert;
      const problem = timeProblem(below, now) ?? (build.trusted.has(below.sha256) ? undefined : issuerProblem(below, chain[j + 1] as ChainCert));
      if (problem) return { anchored: false, chain, appended, reason: `the chain anchors at ${c.subject} (sha256 ${c.sha256}), but ${problem}` };
    }
    return { anchored: true, chain, appended, anchor: c, anchorFrom: i < served.length ? 'served' : 'store' };
  }
  const names = chain.map((c) => `${c.subject} (issued by ${c.issuer}, sha256 ${c.sha256.slice(0, 16)}...)`).join(' <- ');
  return {
    anchored: false,
    chain,
    appended,
    reason:
      `no certificate of the chain ${names} has its fingerprint built in${skipped.length ? ` within its validity (${skipped.join('; ')})` : ''}, ` +
      `and the store adds no issuer of the last one that has: iPXE refuses it with 0216eb3c (after asking \${crosscert}, ca.ipxe.org, which needs egress)`,
  };
}
