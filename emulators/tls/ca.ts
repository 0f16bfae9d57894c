/**
 * Certificates for the local stack's HTTPS door and for tests of TLS clients (curl, the CLI,
 * iPXE 2.0.0): a local CA kept on disk, leaves issued from it, and the odd chains a refusal test
 * needs (another CA, expired, wrong name, a Google-shaped cross-signed chain).
 *
 * Shaped for iPXE's X.509 parser (src/crypto/x509.c in v2.0.0): version 3, SHA-256 signatures,
 * CAs carry a critical basicConstraints CA:TRUE and keyUsage keyCertSign (x509_check_issuer
 * refuses an issuer without them), leaves carry subjectAltName dNSName / iPAddress entries
 * (x509_check_alt_name) and the serverAuth extended key usage. No certificate names an OCSP
 * responder, so an iPXE built with OCSP_CHECK never needs egress to validate them.
 */
import { createPrivateKey, randomBytes, X509Certificate as NodeX509Certificate } from 'node:crypto';
import { chmodSync, linkSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join, resolve } from 'node:path';
// @peculiar/x509 resolves its algorithms through tsyringe, which needs Reflect metadata loaded first.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(crypto);

export type KeyType = 'ecdsa' | 'rsa';

/** A certificate and its private key; a CA among them can issue others. */
export interface IssuedCertificate {
  certPem: string;
  keyPem: string;
  keyType: KeyType;
  /** SHA-256 of the DER certificate, colon-separated upper-case hex (as openssl and node print it). */
  fingerprintSha256: string;
  /** The subject's distinguished name, e.g. `CN=netboot local CA`. */
  subject: string;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
}

export interface IssueOptions {
  /** Signs the new certificate; undefined makes it self-signed. */
  issuer?: IssuedCertificate;
  /** DNS names and IP addresses (leaf: subjectAltName; the first is also the common name). */
  names: string[];
  keyType: KeyType;
  /** Default: an hour ago, so a guest clock slightly behind the host's still accepts it. */
  notBefore?: Date;
  /** Default: ten years on for a CA, one year for a leaf. */
  notAfter?: Date;
  /** A CA (basicConstraints CA:TRUE, keyCertSign) rather than a server leaf. */
  ca?: boolean;
  /** Common name of a CA (default: the first of `names`). */
  commonName?: string;
}

const hour = 3600_000;
const day = 24 * hour;

const keyAlgorithms: Record<KeyType, RsaHashedKeyGenParams | EcKeyGenParams> = {
  rsa: { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
  ecdsa: { name: 'ECDSA', namedCurve: 'P-256' },
};
const importAlgorithms: Record<KeyType, RsaHashedImportParams | EcKeyImportParams> = {
  rsa: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
  ecdsa: { name: 'ECDSA', namedCurve: 'P-256' },
};
const signingAlgorithms: Record<KeyType, Algorithm | EcdsaParams> = {
  rsa: { name: 'RSASSA-PKCS1-v1_5' },
  ecdsa: { name: 'ECDSA', hash: 'SHA-256' },
};

/** A positive serial (top bit clear, as DER INTEGER must be for a positive value), 16 random bytes. */
function serialNumber(): string {
  const bytes = randomBytes(16);
  bytes.writeUInt8((bytes.readUInt8(0) & 0x7f) | 0x01, 0);
  return bytes.toString('hex');
}

function generalNames(names: string[]): x509.JsonGeneralNames {
  return names.map((value) => ({ type: isIP(value) ? 'ip' : 'dns', value }));
}

function escapeDn(value: string): string {
  return value.replace(/([,+"\\<>;=])/g, '\\$1');
}

async function keyPem(privateKey: CryptoKey): Promise<string> {
  const der = await crypto.subtle.exportKey('pkcs8', privateKey);
  return withNewline(x509.PemConverter.encode(der, 'PRIVATE KEY'));
}

function fingerprint(certPem: string): string {
  return new NodeX509Certificate(certPem).fingerprint256;
}

/** Signs a certificate for `publicKey` named `subject`, with the extensions of a CA or a leaf. */
async function sign(opts: {
  subject: string;
  publicKey: CryptoKey;
  issuer: { subject: string; privateKey: CryptoKey; publicKey: CryptoKey; keyType: KeyType };
  names: string[];
  ca: boolean;
  keyType: KeyType;
  notBefore: Date;
  notAfter: Date;
}): Promise<string> {
  const extensions: x509.Extension[] = opts.ca
    ? [
        new x509.BasicConstraintsExtension(true, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      ]
    : [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(
          opts.keyType === 'rsa' ? x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment : x509.KeyUsageFlags.digitalSignature,
          true,
        ),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
        new x509.SubjectAlternativeNameExtension(generalNames(opts.names)),
      ];
  extensions.push(await x509.SubjectKeyIdentifierExtension.create(opts.publicKey));
  extensions.push(await x509.AuthorityKeyIdentifierExtension.create(opts.issuer.publicKey));
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serialNumber(),
    subject: opts.subject,
    issuer: opts.issuer.subject,
    notBefore: opts.notBefore,
    notAfter: opts.notAfter,
    publicKey: opts.publicKey,
    signingKey: opts.issuer.privateKey,
    signingAlgorithm: signingAlgorithms[opts.issuer.keyType],
    extensions,
  });
  return withNewline(cert.toString('pem'));
}

/** PEM blocks end in a newline, so that chains can be concatenated. */
function withNewline(pem: string): string {
  return pem.endsWith('\n') ? pem : `${pem}\n`;
}

/** A new key pair and a certificate for it: a leaf for `names`, or a CA when `ca` is set. */
export async function issueCertificate(opts: IssueOptions): Promise<IssuedCertificate> {
  const commonName = opts.commonName ?? opts.names[0];
  if (commonName === undefined) throw new Error('issueCertificate: a certificate needs a name');
  const ca = opts.ca ?? false;
  const keys = (await crypto.subtle.generateKey(keyAlgorithms[opts.keyType], true, ['sign', 'verify'])) as CryptoKeyPair;
  const subject = `CN=${escapeDn(commonName)}`;
  const issuer = opts.issuer ?? { subject, privateKey: keys.privateKey, publicKey: keys.publicKey, keyType: opts.keyType };
  const now = Date.now();
  const certPem = await sign({
    subject,
    publicKey: keys.publicKey,
    issuer,
    names: opts.names,
    ca,
    keyType: opts.keyType,
    notBefore: opts.notBefore ?? new Date(now - hour),
    notAfter: opts.notAfter ?? new Date(now + (ca ? 3650 : 365) * day),
  });
  return {
    certPem,
    keyPem: await keyPem(keys.privateKey),
    keyType: opts.keyType,
    fingerprintSha256: fingerprint(certPem),
    subject,
    privateKey: keys.privateKey,
    publicKey: keys.publicKey,
  };
}

/**
 * `ca`'s own name and key certified by `by`: the cross-signed certificate that lets a client
 * trusting only `by` reach `ca` (as GTS Root R1 cross-signed by GlobalSign Root CA).
 */
export async function crossSign(ca: IssuedCertificate, by: IssuedCertificate, opts: { notBefore?: Date; notAfter?: Date } = {}): Promise<string> {
  const now = Date.now();
  return sign({
    subject: ca.subject,
    publicKey: ca.publicKey,
    issuer: by,
    names: [],
    ca: true,
    keyType: ca.keyType,
    notBefore: opts.notBefore ?? new Date(now - hour),
    notAfter: opts.notAfter ?? new Date(now + 3650 * day),
  });
}

/** A certificate and key from PEM, usable as an issuer. */
export async function loadCertificate(certPem: string, privateKeyPem: string): Promise<IssuedCertificate> {
  const keyObject = createPrivateKey(privateKeyPem);
  const keyType: KeyType = keyObject.asymmetricKeyType === 'rsa' ? 'rsa' : 'ecdsa';
  const der = keyObject.export({ type: 'pkcs8', format: 'der' });
  const privateKey = await crypto.subtle.importKey('pkcs8', der, importAlgorithms[keyType], true, ['sign']);
  const cert = new x509.X509Certificate(certPem);
  const publicKey = await cert.publicKey.export(importAlgorithms[keyType], ['verify']);
  return { certPem, keyPem: privateKeyPem, keyType, fingerprintSha256: fingerprint(certPem), subject: cert.subject, privateKey, publicKey };
}

export const localTlsDir = resolve(__dirname, '../../.cache/local-tls');
export const localCaCommonName = 'netboot local CA';

export interface LocalCa extends IssuedCertificate {
  /** The CA certificate alone (what clients trust: curl --cacert, netboot --ca, iPXE TRUST=). */
  certPath: string;
  /** The CA's key and certificate together, mode 0600. */
  keyPath: string;
}

/**
 * The local CA kept in `dir` (default .cache/local-tls), made on first use: RSA 2048 so that an
 * RSA-only client can verify the whole chain of an RSA leaf; ECDSA leaves under it work for
 * clients that do both (iPXE 2.0.0, curl, Node).
 *
 * Safe when several processes call it at once: `ca-key.pem` (key and certificate together) is
 * the one source of truth and is created by an exclusive hard link, so exactly one process's CA
 * wins and the others load it; `ca.pem` is then (re)written from it by whoever finds it missing
 * or different, by rename, so no reader sees half a file.
 */
export async function ensureLocalCa(dir = localTlsDir): Promise<LocalCa> {
  const keyPath = join(dir, 'ca-key.pem');
  const certPath = join(dir, 'ca.pem');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  let bundle = readIfPresent(keyPath);
  if (bundle === undefined) {
    const made = await issueCertificate({ names: [], commonName: localCaCommonName, keyType: 'rsa', ca: true });
    const tmp = join(dir, `.ca-key.${process.pid}.${randomBytes(4).toString('hex')}`);
    writeFileSync(tmp, made.keyPem + made.certPem, { mode: 0o600 });
    try {
      linkSync(tmp, keyPath);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    } finally {
      rmSync(tmp, { force: true });
    }
    bundle = readFileSync(keyPath, 'utf8');
  }
  chmodSync(keyPath, 0o600);
  const keyPem = pemBlock(bundle, 'PRIVATE KEY');
  const certPem = pemBlock(bundle, 'CERTIFICATE');
  if (!keyPem || !certPem) throw new Error(`${keyPath} holds no key and certificate: remove ${dir} to make a new local CA`);
  if (readIfPresent(certPath) !== certPem) {
    const tmp = join(dir, `.ca.${process.pid}.${randomBytes(4).toString('hex')}`);
    writeFileSync(tmp, certPem, { mode: 0o644 });
    renameSync(tmp, certPath);
  }
  return { ...(await loadCertificate(certPem, keyPem)), certPath, keyPath };
}

function readIfPresent(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

function pemBlock(text: string, label: string): string | undefined {
  const match = new RegExp(`-----BEGIN ${label}-----[\\s\\S]+?-----END ${label}-----\\n?`).exec(text);
  return match?.[0];
}

/** The names the local gateway's leaf always carries: loopback and QEMU user networking's host. */
export const defaultLeafNames = ['localhost', '127.0.0.1', '10.0.2.2'];

// ---- chains for tests of TLS clients -------------------------------------------------------

/** A CA of its own, unrelated to the local one (the impostor's). */
export function otherCa(keyType: KeyType = 'rsa', commonName = 'impostor CA'): Promise<IssuedCertificate> {
  return issueCertificate({ names: [], commonName, keyType, ca: true });
}

/** A leaf from `issuer` for `names` whose validity ended a day ago (it began a year before). */
export function expiredLeaf(issuer: IssuedCertificate, names: string[] = defaultLeafNames, keyType: KeyType = 'ecdsa'): Promise<IssuedCertificate> {
  const now = Date.now();
  return issueCertificate({ issuer, names, keyType, notBefore: new Date(now - 366 * day), notAfter: new Date(now - day) });
}

/** A leaf from `issuer` that names none of the addresses a client would use. */
export function wrongNameLeaf(issuer: IssuedCertificate, keyType: KeyType = 'ecdsa', names = ['wrong-name.invalid']): Promise<IssuedCertificate> {
  return issueCertificate({ issuer, names, keyType });
}

export interface GoogleShapedChain {
  leaf: IssuedCertificate;
  intermediate: IssuedCertificate;
  /** Root A, self-signed (as GTS Root R1). */
  rootA: IssuedCertificate;
  /** Root B, self-signed (as GlobalSign Root CA). */
  rootB: IssuedCertificate;
  /** Root A's name and key certified by root B. */
  rootACrossSignedPem: string;
  /** What the server sends, as Google's front ends do: leaf, intermediate, root A cross-signed by B. */
  serverChainPem: string;
  /** The leaf's private key, for the server. */
  keyPem: string;
}

/**
 * leaf <- intermediate <- root A, with root A also cross-signed by root B, as Google's front
 * ends serve (pki.goog/updates/march2025-alternate-chains). A client trusting root A reaches it
 * through the intermediate; a client trusting only root B goes on through the cross-signed
 * certificate. The CAs are RSA (as GTS Root R1 and GlobalSign Root CA); the leaf is `leafKeyType`.
 */
export async function googleShapedChain(names: string[] = defaultLeafNames, leafKeyType: KeyType = 'ecdsa', caKeyType: KeyType = 'rsa'): Promise<GoogleShapedChain> {
  const [rootA, rootB] = await Promise.all([
    issueCertificate({ names: [], commonName: 'Test Root A', keyType: caKeyType, ca: true }),
    issueCertificate({ names: [], commonName: 'Test Root B', keyType: caKeyType, ca: true }),
  ]);
  const intermediate = await issueCertificate({ issuer: rootA, names: [], commonName: 'Test Intermediate', keyType: caKeyType, ca: true });
  const leaf = await issueCertificate({ issuer: intermediate, names, keyType: leafKeyType });
  const rootACrossSignedPem = await crossSign(rootA, rootB);
  return {
    leaf,
    intermediate,
    rootA,
    rootB,
    rootACrossSignedPem,
    serverChainPem: leaf.certPem + intermediate.certPem + rootACrossSignedPem,
    keyPem: leaf.keyPem,
  };
}
