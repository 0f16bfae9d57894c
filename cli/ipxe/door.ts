// The chain the front door serves, read as iPXE will receive it: over TLS 1.2 (iPXE 2.0.0's
// highest version), where the server's Certificate message travels in clear (RFC 5246 7.4.2),
// so the certificates are read from the bytes in the order sent, with nothing added from this
// host's CA store (node's getPeerCertificate(true) reorders them and completes the walk from it).
import { connect as netConnect, isIP } from 'node:net';
import { Duplex } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import { IpxeBuildError } from './errors';

/** How long the probe waits for the door's certificates: a build host often cannot see the boot network. */
export const PROBE_TIMEOUT_MS = 5_000;

/** The alerts a refused TLS 1.2 ClientHello usually meets (RFC 5246 7.2, RFC 6066 3). */
const ALERTS: Record<number, string> = { 40: 'handshake_failure', 70: 'protocol_version', 71: 'insufficient_security', 112: 'unrecognized_name' };

/**
 * Reads TLS 1.2 records from the server until its Certificate handshake message (type 11) is
 * whole: records of type 22 carry handshake messages, which may span records.
 */
class CertificateMessageReader {
  private records = Buffer.alloc(0);
  private handshake = Buffer.alloc(0);
  certificates?: Buffer[];

  push(data: Buffer): void {
    this.records = Buffer.concat([this.records, data]);
    while (!this.certificates && this.records.length >= 5) {
      const type = this.records.readUInt8(0);
      const length = this.records.readUInt16BE(3);
      if (this.records.length < 5 + length) return;
      const body = this.records.subarray(5, 5 + length);
      this.records = this.records.subarray(5 + length);
      if (type === 21) {
        const alert = body.readUInt8(1);
        throw new Error(`the server sent the TLS alert ${ALERTS[alert] ?? alert} instead of its certificates`);
      }
      if (type !== 22) continue;
      this.handshake = Buffer.concat([this.handshake, body]);
      this.readMessages();
    }
  }

  private readMessages(): void {
    while (!this.certificates && this.handshake.length >= 4) {
      const type = this.handshake.readUInt8(0);
      const length = this.handshake.readUIntBE(1, 3);
      if (this.handshake.length < 4 + length) return;
      const body = this.handshake.subarray(4, 4 + length);
      this.handshake = this.handshake.subarray(4 + length);
      if (type !== 11) continue;
      const certs: Buffer[] = [];
      for (let at = 3; at + 3 <= body.length; ) {
        const n = body.readUIntBE(at, 3);
        certs.push(Buffer.from(body.subarray(at + 3, at + 3 + n)));
        at += 3 + n;
      }
      this.certificates = certs;
    }
  }
}

/** host and port of an https URL (IPv6 brackets dropped). */
function endpoint(url: string): { host: string; port: number } {
  const u = new URL(url);
  return { host: u.hostname.replace(/^\[(.*)\]$/, '$1'), port: Number(u.port || 443) };
}

/**
 * The DER certificates the door at `url` sends, in its order. Rejects with a one-line reason when
 * it cannot be reached or answers no TLS 1.2 handshake. Nothing is verified: this only reads.
 */
export function probeDoorChain(url: string, timeoutMs = PROBE_TIMEOUT_MS): Promise<Buffer[]> {
  const { host, port } = endpoint(url);
  return new Promise((resolve, reject) => {
    const raw = netConnect({ host, port });
    const reader = new CertificateMessageReader();
    // Between node's TLS client and the socket, so the server's bytes can be read as they pass.
    const tap = new Duplex({
      read: () => undefined,
      write: (chunk: Buffer, _enc, done) => void raw.write(chunk, done),
      final: (done) => void raw.end(done),
    });
    const client = tlsConnect({ socket: tap, servername: isIP(host) ? undefined : host, rejectUnauthorized: false, minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' });
    let settled = false;
    const finish = (error: Error | undefined, certs?: Buffer[]) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      client.destroy();
      raw.destroy();
      if (error) reject(error);
      else resolve(certs ?? []);
    };
    const timer = setTimeout(() => finish(new Error(`no TLS answer from ${host}:${port} within ${timeoutMs / 1000} s`)), timeoutMs);
    raw.on('data', (d: Buffer) => {
      try {
        reader.push(d);
      } catch (e) {
        return finish(new Error(`${host}:${port}: ${(e as Error).message} (iPXE 2.0.0 speaks TLS 1.2 at most)`));
      }
      if (reader.certificates) return finish(undefined, reader.certificates);
      tap.push(d);
    });
    raw.on('end', () => finish(new Error(`${host}:${port} closed the connection before sending its certificates`)));
    raw.on('error', (e) => finish(new Error(`${host}:${port}: ${e.message}`)));
    client.on('error', (e) => finish(new Error(`${host}:${port}: TLS 1.2 handshake failed: ${e.message} (iPXE 2.0.0 speaks TLS 1.2 at most)`)));
  });
}

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/**
 * The PEM certificates of a text in order, ignoring anything else (a `--trust` bundle, or the
 * chain `openssl s_client -showcerts` prints among its report); none is a usage error.
 */
export function pemCertificates(text: string, source: string): string[] {
  const blocks = text.match(PEM_BLOCK) ?? [];
  if (blocks.length === 0) throw new IpxeBuildError(`${source}: no PEM certificate (-----BEGIN CERTIFICATE-----) in it`, 'usage');
  return blocks;
}
