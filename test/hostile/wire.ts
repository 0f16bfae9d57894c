import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * HTTP/1.1 at the byte level, for requests fetch and node:http refuse to send: lying
 * Content-Length, bare CR/LF in headers, oversized request lines, bodies that stop
 * half-way with the socket held open, unknown methods, endless chunked bodies.
 */

export type HeaderList = [string, string][];

export interface WirePlan {
  /** Request line, header fields and the blank line, exactly as sent. */
  head: Buffer;
  /** Written together with the head. */
  body?: Buffer;
  /** Then, in order: a pause, optional bytes, optionally a half-close (FIN). */
  then?: { pauseMs: number; data?: Buffer; end?: boolean }[];
  /** Then chunked data (`chunkBytes` a chunk) until an answer arrives or `upToBytes` were sent; never a last chunk. */
  endlessChunks?: { chunkBytes: number; upToBytes: number };
}

export interface WireResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  /** Interim (1xx) answers seen before the final one. */
  interim: number[];
  /** Body bytes written when the final answer was complete (endless plans). */
  bodyBytesSent: number;
}

export class WireError extends Error {}

export function requestHead(method: string, target: string, headers: HeaderList, version = 'HTTP/1.1'): Buffer {
  const lines = [`${method} ${target} ${version}`, ...headers.map(([name, value]) => `${name}: ${value}`)];
  return Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'utf8');
}

/** Sends `plan` on a new connection and waits for one complete final answer, at most `timeoutMs`. */
export function sendOnWire(port: number, plan: WirePlan, opts: { timeoutMs: number; head?: boolean }): Promise<WireResponse> {
  return new Promise<WireResponse>((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let received = Buffer.alloc(0);
    let bodyBytesSent = 0;
    let settled = false;
    const finish = (outcome: WireResponse | Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (outcome instanceof Error) reject(outcome);
      else resolve(outcome);
    };
    const timer = setTimeout(() => finish(new WireError(`hang: no complete answer within ${opts.timeoutMs} ms (${received.length} bytes received)`)), opts.timeoutMs);

    const tryParse = (): ReturnType<typeof parseResponse> | Error => {
      try {
        return parseResponse(received, opts.head ?? false);
      } catch (err) {
        return err as Error;
      }
    };
    socket.on('data', (data: Buffer) => {
      received = Buffer.concat([received, data]);
      const parsed = tryParse();
      if (parsed instanceof Error) finish(parsed);
      else if (parsed) finish({ ...parsed, bodyBytesSent });
    });
    // Writes fail once the server has answered and closed: expected for refused bodies.
    socket.on('error', () => undefined);
    socket.on('close', () => {
      const parsed = tryParse();
      if (parsed instanceof Error) finish(parsed);
      else if (parsed) finish({ ...parsed, bodyBytesSent });
      else finish(new WireError(received.length === 0 ? 'connection closed without an answer' : `connection closed mid-answer: ${JSON.stringify(received.subarray(0, 300).toString('latin1'))}`));
    });

    void (async () => {
      await new Promise<void>((ok) => socket.once('connect', () => ok()));
      socket.write(plan.body ? Buffer.concat([plan.head, plan.body]) : plan.head);
      bodyBytesSent += plan.body?.length ?? 0;
      for (const step of plan.then ?? []) {
        await sleep(step.pauseMs);
        if (settled || socket.destroyed) return;
        if (step.data) socket.write(step.data);
        if (step.end) socket.end();
      }
      if (plan.endlessChunks) {
        const { chunkBytes, upToBytes } = plan.endlessChunks;
        const chunk = Buffer.concat([Buffer.from(`${chunkBytes.toString(16)}\r\n`), Buffer.alloc(chunkBytes, 0x61), Buffer.from('\r\n')]);
        while (!settled && !socket.destroyed && bodyBytesSent < upToBytes) {
          bodyBytesSent += chunkBytes;
          if (!socket.write(chunk)) {
            await new Promise<void>((ok) => {
              const done = () => {
                socket.off('drain', done);
                socket.off('close', done);
                ok();
              };
              socket.once('drain', done);
              socket.once('close', done);
            });
          }
        }
      }
    })().catch((err: unknown) => finish(err instanceof Error ? err : new Error(String(err))));
  });
}

/** The first final answer in `data`, or null while it is incomplete. Bodies need Content-Length (every problem has one). */
export function parseResponse(data: Buffer, head: boolean): Omit<WireResponse, 'bodyBytesSent'> | null {
  const interim: number[] = [];
  let offset = 0;
  for (;;) {
    const end = data.indexOf('\r\n\r\n', offset);
    if (end < 0) return null;
    const [statusLine = '', ...fields] = data.subarray(offset, end).toString('latin1').split('\r\n');
    const match = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine);
    if (!match) throw new WireError(`not an HTTP/1.1 answer: ${JSON.stringify(statusLine.slice(0, 100))}`);
    const status = Number(match[1]);
    const headers: Record<string, string> = {};
    for (const field of fields) {
      const colon = field.indexOf(':');
      const name = field.slice(0, colon).trim().toLowerCase();
      headers[name] = headers[name] === undefined ? field.slice(colon + 1).trim() : `${headers[name]}, ${field.slice(colon + 1).trim()}`;
    }
    offset = end + 4;
    if (status < 200) {
      interim.push(status);
      continue;
    }
    if (head || status === 204 || status === 304) return { status, headers, body: Buffer.alloc(0), interim };
    if (headers['content-length'] === undefined) return null; // read to the close
    const length = Number(headers['content-length']);
    if (data.length - offset < length) return null;
    return { status, headers, body: data.subarray(offset, offset + length), interim };
  }
}
