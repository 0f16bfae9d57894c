// `netboot --ca FILE` / NETBOOT_CA: trust a CA besides the system's, e.g. the local stack's
// (`npm start -- --tls` keeps it at .cache/local-tls/ca.pem).
import { readFileSync } from 'node:fs';
import tls from 'node:tls';

export class CaFileError extends Error {}

/**
 * Adds the certificates in `file` to this process's default trust: every HTTPS connection the
 * CLI makes from then on (the service, and Storage's upload session URIs, which on the local
 * stack sit behind the same CA) accepts them as roots, beside the system's CAs.
 */
export function trustCaFile(file: string): number {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new CaFileError(`--ca / NETBOOT_CA: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  const certificates = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (certificates.length === 0) throw new CaFileError(`--ca / NETBOOT_CA: ${file} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
  try {
    tls.setDefaultCACertificates([...tls.getCACertificates('default'), ...certificates]);
  } catch (e) {
    throw new CaFileError(`--ca / NETBOOT_CA: ${file}: ${(e as Error).message}`);
  }
  return certificates.length;
}
