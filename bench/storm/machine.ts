// One simulated machine: what the project's iPXE script makes a real one do (shared/boot/
// script.ts). The boot script, then the kernel and every initrd URL the script names, each
// download tried `downloadAttempts` times `retryPauseSeconds` apart (longer when the answer
// said Retry-After); the booting report once (the script boots anyway when it fails); after a
// download's last failure the script reboots in `failurePauseSeconds` and starts over.
import http from 'node:http';
import https from 'node:https';
import { downloadAttempts, failurePauseSeconds, retryPauseSeconds } from '../../shared/boot/script';

export type Phase = 'script' | 'kernel' | 'initrd' | 'report';
export const phases: readonly Phase[] = ['script', 'kernel', 'initrd', 'report'];

export interface MachineTarget {
  baseUrl: string;
  /** Trusted CA for https targets (PEM), or undefined for the default trust. */
  ca?: string;
  /** One request's limit, ms (iPXE's own HTTP timeout is of this order). */
  timeoutMs: number;
  /** Multiplies every pause (retry, reboot): 1 as the script says; tests may shorten it. */
  pauseScale: number;
  /** Reboots after a failed download before the machine counts as failed (bounded). */
  maxReboots: number;
}

export interface MachineOutcome {
  booted: boolean;
  /** From the storm's start to the script's `boot` (after the report), ms. */
  bootedAtMs?: number;
  /** Latency of each successful request, by phase (a redirect and its Storage GET count as one). */
  latencies: Partial<Record<Phase, number[]>>;
  refusals: { 429: number; 503: number };
  /** Requests repeated after a failure (refusal, error, timeout). */
  retries: number;
  reboots: number;
  /** Refused on its boot script at least once, then booted. */
  refusedThenBooted: boolean;
  reportFailed: boolean;
  bytes: { fromFunctions: number; fromStorage: number };
  lastError?: string;
}

interface Answer {
  status: number;
  retryAfterSeconds?: number;
  body: Buffer;
  bytes: number;
  fromStorage: boolean;
}

const sleep = (ms: number) => new Promise<void>((ok) => setTimeout(ok, ms));

/** One GET with the machine's address as the front door reports it; follows one redirect (to Storage). */
function get(url: URL, forwardedFor: string | undefined, target: MachineTarget, keepBody: boolean, redirects = 1): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const client = url.protocol === 'https:' ? https : http;
    // A machine's own connection per request: iPXE does not share connections across machines.
    const req = client.get(url, { agent: false, timeout: target.timeoutMs, ...(target.ca ? { ca: target.ca } : {}), headers: forwardedFor ? { 'x-forwarded-for': forwardedFor } : {} }, (res) => {
      const status = res.statusCode ?? 0;
      const location = res.headers.location;
      if (status >= 300 && status < 400 && location && redirects > 0) {
        res.resume();
        // Storage sees the machine itself: no X-Forwarded-For of ours.
        get(new URL(location, url), undefined, target, keepBody, redirects - 1).then((a) => resolve({ ...a, fromStorage: true }), reject);
        return;
      }
      const chunks: Buffer[] = [];
      let bytes = 0;
      res.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        if (keepBody) chunks.push(chunk);
      });
      res.on('end', () => {
        const retryAfter = Number(res.headers['retry-after']);
        resolve({ status, body: Buffer.concat(chunks), bytes, fromStorage: false, ...(Number.isFinite(retryAfter) && retryAfter > 0 ? { retryAfterSeconds: retryAfter } : {}) });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`timeout after ${target.timeoutMs} ms`)));
    req.on('error', reject);
  });
}

/** The URLs a boot script makes iPXE fetch, in order. */
export function scriptDownloads(script: string): { kernel: string; initrds: string[]; report?: string } {
  const kernel = /(?:^|\s)kernel (\/asset\/\S+)/m.exec(script)?.[1];
  if (!kernel) throw new Error(`the boot script names no kernel: ${script.slice(0, 200)}`);
  const initrds = [...script.matchAll(/initrd --name \S+ (\/asset\/\S+)/g)].map((m) => m[1] as string);
  const report = /imgfetch --name report (\S+)/.exec(script)?.[1];
  return { kernel, initrds, ...(report ? { report } : {}) };
}

export async function bootMachine(mac: string, address: string | undefined, target: MachineTarget, stormStart: number): Promise<MachineOutcome> {
  const out: MachineOutcome = { booted: false, latencies: {}, refusals: { 429: 0, 503: 0 }, retries: 0, reboots: 0, refusedThenBooted: false, reportFailed: false, bytes: { fromFunctions: 0, fromStorage: 0 } };
  let scriptRefused = false;
  const record = (phase: Phase, ms: number) => (out.latencies[phase] ??= []).push(ms);

  /** One download as `retried()` in the script: true when it arrived. */
  const fetchRetried = async (phase: Phase, path: string, keepBody: boolean): Promise<Buffer | null> => {
    for (let attempt = 1; attempt <= downloadAttempts; attempt++) {
      if (attempt > 1) out.retries++;
      const started = performance.now();
      let pauseSeconds = retryPauseSeconds;
      try {
        const answer = await get(new URL(path, target.baseUrl), address, target, keepBody);
        if (answer.status === 200) {
          record(phase, performance.now() - started);
          out.bytes[answer.fromStorage ? 'fromStorage' : 'fromFunctions'] += answer.bytes;
          return answer.body;
        }
        if (answer.status === 429 || answer.status === 503) {
          out.refusals[answer.status]++;
          if (phase === 'script') scriptRefused = true;
          // Honour Retry-After when it asks for longer than the script's own pause.
          pauseSeconds = Math.max(retryPauseSeconds, answer.retryAfterSeconds ?? 0);
        }
        out.lastError = `${phase}: HTTP ${answer.status} ${answer.body.toString('utf8', 0, 200)}`;
      } catch (err) {
        out.lastError = `${phase}: ${err instanceof Error ? err.message : String(err)}`;
      }
      if (attempt < downloadAttempts) await sleep(pauseSeconds * 1000 * target.pauseScale);
    }
    return null;
  };

  for (;;) {
    const script = await fetchRetried('script', `/boot.ipxe?mac=${encodeURIComponent(mac)}&arch=x86_64&platform=efi`, true);
    const urls = script ? scriptDownloads(script.toString('utf8')) : undefined;
    let ok = urls !== undefined && (await fetchRetried('kernel', urls.kernel, false)) !== null;
    for (const initrd of urls?.initrds ?? []) ok = ok && (await fetchRetried('initrd', initrd, false)) !== null;
    if (ok && urls) {
      if (urls.report) {
        // imgfetch ... || echo "booting anyway": one attempt, a failure does not stop the boot.
        const started = performance.now();
        try {
          const answer = await get(new URL(urls.report, target.baseUrl), address, target, false);
          if (answer.status >= 200 && answer.status < 300) record('report', performance.now() - started);
          else {
            out.reportFailed = true;
            if (answer.status === 429 || answer.status === 503) out.refusals[answer.status]++;
          }
        } catch {
          out.reportFailed = true;
        }
      }
      out.booted = true;
      out.bootedAtMs = performance.now() - stormStart;
      out.refusedThenBooted = scriptRefused;
      return out;
    }
    if (out.reboots >= target.maxReboots) return out;
    out.reboots++;
    await sleep(failurePauseSeconds * 1000 * target.pauseScale);
  }
}
