// An HTTPS front door on the host's loopback for the boot-network tests: a TLS server with the
// certificate chain a test chooses (another CA's, expired, a wrong name, a Google-shaped chain)
// that passes the decrypted bytes to a plain-HTTP server behind it (the local stack), as API
// Gateway and the load balancer terminate TLS in front of the functions. It counts handshakes
// and the HTTP bytes it received, so a refusal test can show the client never asked anything.
import * as net from 'node:net';
import * as tls from 'node:tls';

export interface TlsFront {
  readonly port: number;
  /** TLS connections accepted (handshake done from the server's side). */
  handshakes(): number;
  /** Connections the client opened at all (TCP). */
  connections(): number;
  /** Bytes of application data (HTTP) the client sent after a handshake. */
  requestBytes(): number;
  close(): Promise<void>;
}

/**
 * `certPem`: the leaf first, then what the server sends after it; `upstreamPort`: the plain-HTTP
 * server on 127.0.0.1 behind the front.
 */
export async function startTlsFront(opts: { certPem: string; keyPem: string; upstreamPort: number }): Promise<TlsFront> {
  let handshakes = 0;
  let connections = 0;
  let requestBytes = 0;
  const server = tls.createServer({ cert: opts.certPem, key: opts.keyPem, minVersion: 'TLSv1.2' }, (client) => {
    handshakes++;
    const upstream = net.connect(opts.upstreamPort, '127.0.0.1');
    client.on('data', (d: Buffer) => {
      requestBytes += d.length;
    });
    client.pipe(upstream).pipe(client);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  server.on('connection', () => {
    connections++;
  });
  // A refused handshake is the expected outcome of several tests: nothing to report.
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    handshakes: () => handshakes,
    connections: () => connections,
    requestBytes: () => requestBytes,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Keep-alive connections from a machine that is gone would hold close() open.
        setTimeout(resolve, 1_000).unref();
      }),
  };
}
