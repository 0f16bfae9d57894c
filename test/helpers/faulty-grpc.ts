import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { Firestore } from '@google-cloud/firestore';

/** gRPC status codes a lost answer looks like to the client. */
export const grpcStatus = { DEADLINE_EXCEEDED: 4, UNAVAILABLE: 14 } as const;

export interface FaultyGrpcProxy {
  /** `host:port`, for a Firestore client. */
  host: string;
  /**
   * The next `count` calls of `method` (e.g. `Commit`) reach Firestore and are applied, but
   * the client is told `code` instead of the answer: an ambiguous commit.
   */
  loseAnswers(method: string, code: number, count?: number): void;
  /** How many calls of `method` went through since the start. */
  calls(method: string): number;
  close(): Promise<void>;
}

/**
 * An HTTP/2 proxy between a gRPC client and the Firestore emulator: it passes every call
 * through unchanged, except those it is told to answer with an error after the emulator
 * has applied them (a network that drops the response of a commit that went through).
 */
export async function startFaultyGrpcProxy(target: string): Promise<FaultyGrpcProxy> {
  const upstream = http2.connect(`http://${target}`);
  upstream.on('error', () => undefined);
  const counts = new Map<string, number>();
  let fault: { method: string; code: number; remaining: number } | undefined;

  const server = http2.createServer();
  server.on('stream', (down, headers) => {
    const path = String(headers[':path']);
    const method = path.slice(path.lastIndexOf('/') + 1);
    counts.set(method, (counts.get(method) ?? 0) + 1);
    const lose = fault && fault.method === method && fault.remaining > 0 ? fault.code : undefined;
    if (lose !== undefined && fault) fault.remaining -= 1;

    const forwarded: http2.OutgoingHttpHeaders = {};
    for (const [name, value] of Object.entries(headers)) if (!name.startsWith(':') || name === ':method' || name === ':path') forwarded[name] = value;
    const up = upstream.request(forwarded);
    down.pipe(up);
    down.on('error', () => up.close());
    up.on('error', () => down.close(http2.constants.NGHTTP2_INTERNAL_ERROR));

    if (lose !== undefined) {
      // Let the call complete upstream (it is applied), then answer with the error alone.
      up.resume();
      up.on('close', () => {
        if (!down.closed) down.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': String(lose), 'grpc-message': 'injected: the answer was lost' }, { endStream: true });
      });
      return;
    }
    let trailers: http2.IncomingHttpHeaders | undefined;
    up.on('trailers', (t) => (trailers = t));
    up.on('response', (h) => {
      const response: http2.OutgoingHttpHeaders = {};
      for (const [name, value] of Object.entries(h)) if (!name.startsWith(':') || name === ':status') response[name] = value;
      if (h['grpc-status'] !== undefined) {
        // A trailers-only answer (an error such as FAILED_PRECONDITION): headers and end of stream in one.
        up.resume();
        down.respond(response, { endStream: true });
        return;
      }
      down.respond(response, { waitForTrailers: true });
      down.on('wantTrailers', () => {
        const out: http2.OutgoingHttpHeaders = {};
        for (const [name, value] of Object.entries(trailers ?? {})) if (!name.startsWith(':')) out[name] = value;
        down.sendTrailers(out);
      });
      up.pipe(down);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    host: `127.0.0.1:${port}`,
    loseAnswers(method, code, count = 1) {
      fault = { method, code, remaining: count };
    },
    calls: (method) => counts.get(method) ?? 0,
    async close() {
      upstream.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A Firestore client that talks to the emulator through `host` (the client reads the emulator's address from the environment when it is made). */
export function firestoreThrough(host: string, projectId: string): Firestore {
  const emulator = process.env.FIRESTORE_EMULATOR_HOST;
  process.env.FIRESTORE_EMULATOR_HOST = host;
  try {
    return new Firestore({ projectId, ignoreUndefinedProperties: true });
  } finally {
    process.env.FIRESTORE_EMULATOR_HOST = emulator;
  }
}
