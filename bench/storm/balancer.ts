// Storm child: the local stand-in for Google's front end and Cloud Run's request routing in
// front of K instances (gateway processes, each one instance of every function). Per function
// and instance it admits at most the concurrency Terraform deploys (terraform/functions.json);
// a request that finds every instance's slots taken waits in a queue, as Cloud Run holds
// pending requests, and is refused with 429 after STORM_PENDING_TIMEOUT_MS (Cloud Run answers
// 429 "no available instance" then). X-Forwarded-For is left alone: Cloud Run's routing adds
// no hop of its own, and each instance's local gateway appends its peer as the front end does.
//
// Env: STORM_INSTANCES (JSON array of instance base URLs), STORM_PENDING_TIMEOUT_MS.
// IPC: { type: 'stats', reset?: boolean } -> { type: 'stats', stats: BalancerStats }.
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { resolveRoute } from '../../shared/routes';
import { serveAsChild } from '../proc';

export interface BalancerStats {
  /** Per instance: requests forwarded, by function name. */
  perInstance: Record<string, number>[];
  /** Requests refused here because no instance had a free slot in time (429). */
  refusedNoInstance: number;
  /** Longest wait for a slot, ms. */
  maxQueueMs: number;
  queuedRequests: number;
}

const deployed = JSON.parse(readFileSync(resolve(__dirname, '../../terraform/functions.json'), 'utf8')) as { functions: Record<string, { concurrency: number }> };
const instances = (JSON.parse(process.env.STORM_INSTANCES ?? '[]') as string[]).map((u) => new URL(u));
const pendingTimeoutMs = Number(process.env.STORM_PENDING_TIMEOUT_MS ?? 30_000);
if (instances.length === 0) throw new Error('STORM_INSTANCES names no instance');

/** In flight per instance and function. */
const inFlight = instances.map(() => new Map<string, number>());
const waiting = new Map<string, (() => void)[]>();
const stats: BalancerStats = { perInstance: instances.map(() => ({})), refusedNoInstance: 0, maxQueueMs: 0, queuedRequests: 0 };
// One keep-alive pool per instance: the front end keeps connections to its instances open.
const agents = instances.map(() => new http.Agent({ keepAlive: true, maxSockets: 512 }));

function concurrencyOf(fn: string): number {
  return deployed.functions[fn]?.concurrency ?? 80;
}

/** The least busy instance with a free slot for `fn`, or -1. */
function freeInstance(fn: string): number {
  let best = -1;
  let bestLoad = Infinity;
  for (let i = 0; i < instances.length; i++) {
    const load = inFlight[i]?.get(fn) ?? 0;
    if (load < concurrencyOf(fn) && load < bestLoad) [best, bestLoad] = [i, load];
  }
  return best;
}

function acquire(fn: string): Promise<number> {
  const started = performance.now();
  return new Promise((ok, fail) => {
    const tryTake = (): boolean => {
      const i = freeInstance(fn);
      if (i < 0) return false;
      const slots = inFlight[i] as Map<string, number>;
      slots.set(fn, (slots.get(fn) ?? 0) + 1);
      stats.maxQueueMs = Math.max(stats.maxQueueMs, performance.now() - started);
      ok(i);
      return true;
    };
    if (tryTake()) return;
    stats.queuedRequests++;
    const queue = waiting.get(fn) ?? [];
    waiting.set(fn, queue);
    const wake = () => {
      clearTimeout(timer);
      if (!tryTake()) queue.unshift(wake);
    };
    const timer = setTimeout(() => {
      const at = queue.indexOf(wake);
      if (at >= 0) queue.splice(at, 1);
      fail(new Error('no instance'));
    }, pendingTimeoutMs);
    queue.push(wake);
  });
}

function release(instance: number, fn: string): void {
  const slots = inFlight[instance] as Map<string, number>;
  slots.set(fn, (slots.get(fn) ?? 1) - 1);
  waiting.get(fn)?.shift()?.();
}

const server = http.createServer((req, res) => {
  const path = (req.url ?? '/').split('?')[0] as string;
  const match = resolveRoute(req.method ?? 'GET', path);
  // Unrouted requests go to an instance too: it answers 404/405 as the front end would.
  const fn = match.kind === 'found' ? match.route.fn : '(unrouted)';
  acquire(fn).then(
    (instance) => {
      const target = instances[instance] as URL;
      const counts = stats.perInstance[instance] as Record<string, number>;
      counts[fn] = (counts[fn] ?? 0) + 1;
      // X-Forwarded-For passes as it came: each instance's local gateway appends the peer it
      // sees, as Google's front end does, so "<machine>, <peer>" reaches the function (2 hops).
      const headers = req.headers;
      let released = false;
      const done = () => {
        if (!released) release(instance, fn);
        released = true;
      };
      // The slot is held until the instance has answered: a client that gave up (timeout) does
      // not make its request's work vanish, so the upstream request is cut and its slot freed then.
      let upstreamRequest: http.ClientRequest | undefined;
      let clientGone = false;
      res.on('close', () => {
        if (res.writableFinished) return;
        clientGone = true;
        upstreamRequest?.destroy();
        if (!upstreamRequest) done();
      });
      // The body is read first (boot requests have none, admin ones are small) so that a request
      // can be sent again: a kept-alive connection the instance closed just as it was reused
      // fails with ECONNRESET before the instance saw anything (Node's documented retry case).
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        const send = (retried: boolean) => {
          const upstream = (upstreamRequest = http.request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers, agent: agents[instance] }, (answer) => {
            res.writeHead(answer.statusCode ?? 502, answer.headers);
            answer.pipe(res);
            answer.on('end', done);
            answer.on('error', done);
            answer.on('close', done);
          }));
          upstream.on('error', (err: NodeJS.ErrnoException) => {
            if (!retried && !clientGone && upstream.reusedSocket && err.code === 'ECONNRESET') return send(true);
            done();
            if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
            res.end(`balancer: ${err.message}`);
          });
          upstream.end(body);
        };
        send(false);
      });
    },
    () => {
      stats.refusedNoInstance++;
      req.resume();
      res.writeHead(429, { 'content-type': 'text/plain', connection: 'close' }).end('Rejected: no available instance\n');
    },
  );
});
server.keepAliveTimeout = 5_000;

process.on('message', (msg: { type?: string; reset?: boolean }) => {
  if (msg?.type !== 'stats') return;
  process.send?.({ type: 'stats', stats: structuredClone(stats) });
  // Reset: the storm's own counts start now (registration went through here too).
  if (msg.reset) Object.assign(stats, { perInstance: instances.map(() => ({})), refusedNoInstance: 0, maxQueueMs: 0, queuedRequests: 0 });
});
serveAsChild(server);
