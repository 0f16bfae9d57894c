// Issue 9, response side: a large initrd in proxy mode as iPXE fetches it, the part URLs of
// its boot script one after another over one keep-alive connection, through the gateway
// that enforces the platform's response caps.
import { createHash } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { CpuMeter, RssSampler } from './proc';
import { settle, timedGet, type GetTiming } from './stream';

/** The initrd URLs of an iPXE script, in order, resolved against the gateway. */
export function initrdUrls(script: string, base: string): string[] {
  return script
    .split('\n')
    .filter((l) => l.startsWith('initrd '))
    // `initrd --name NAME URL && goto ...` (the script retries each download): the URL is the fourth token.
    .map((l) => new URL(l.split(' ')[3] ?? '', base).toString());
}

export interface PartsTiming {
  status: number[];
  parts: number;
  bytes: number;
  /** First request sent -> first body byte of part 0. */
  firstByteMs: number;
  totalMs: number;
  mibPerSec: number;
  /** TCP connections the parts used (1: all on one keep-alive connection). */
  connections: number;
  /** Slowest part, request sent -> last byte. */
  slowestPartMs: number;
  sha256?: string;
}

/** GETs each URL in turn on one keep-alive connection (an Agent with one socket), body counted and optionally hashed. */
export async function fetchParts(urls: readonly string[], opts: { hash?: boolean } = {}): Promise<PartsTiming> {
  const secure = urls[0]?.startsWith('https:') ?? false;
  const agent = new (secure ? https.Agent : http.Agent)({ keepAlive: true, maxSockets: 1 });
  const sockets = new Set<unknown>();
  const hash = opts.hash ? createHash('sha256') : undefined;
  const status: number[] = [];
  let bytes = 0;
  let firstByteMs = NaN;
  let slowestPartMs = 0;
  const start = performance.now();
  try {
    for (const url of urls) {
      const partStart = performance.now();
      await new Promise<void>((resolve, reject) => {
        const req = (secure ? https : http).get(url, { agent }, (res) => {
          status.push(res.statusCode ?? 0);
          res.on('data', (chunk: Buffer) => {
            if (Number.isNaN(firstByteMs)) firstByteMs = performance.now() - start;
            bytes += chunk.length;
            hash?.update(chunk);
          });
          res.on('end', resolve);
          res.on('error', reject);
        });
        req.on('socket', (s) => sockets.add(s));
        req.on('error', reject);
      });
      slowestPartMs = Math.max(slowestPartMs, performance.now() - partStart);
    }
  } finally {
    agent.destroy();
  }
  const totalMs = performance.now() - start;
  return {
    status,
    parts: urls.length,
    bytes,
    firstByteMs,
    totalMs,
    mibPerSec: bytes / (1024 * 1024) / (totalMs / 1000),
    connections: sockets.size,
    slowestPartMs,
    ...(hash ? { sha256: hash.digest('hex') } : {}),
  };
}

export interface PartsRound {
  direct: GetTiming;
  /** The whole object through a bare node:http pipe proxy: the yardstick for any proxy process here. */
  pipe: GetTiming;
  parts: PartsTiming;
  /** parts / bare pipe, and parts / direct (throughput). */
  ratioToPipe: number;
  ratioToDirect: number;
  pipeRatio: number;
  serverRss: { baseline: number; peakSampled: number; peakHwm: number | null; end: number; samples: number; growth: number };
  cpuPercent: Record<string, number>;
  cpuMsPerMib: { gateway: number; barePipe: number };
}

/** Direct read, bare-pipe read and the parts through the gateway, back to back; the gateway's RSS sampled for the parts. */
export async function partsRound(directUrl: string, pipeUrl: string, partUrls: readonly string[], size: number, serverPid: number, emulatorPid: number, pipePid: number): Promise<PartsRound> {
  const direct = await timedGet(directUrl);
  if (direct.status !== 200 || direct.bytes !== size) throw new Error(`direct read: status ${direct.status}, ${direct.bytes} of ${size} bytes`);
  await settle();
  const pipeMeter = new CpuMeter({ pipe: pipePid });
  const pipe = await timedGet(pipeUrl);
  const pipeCpu = pipeMeter.read();
  if (pipe.status !== 200 || pipe.bytes !== size) throw new Error(`bare pipe read: status ${pipe.status}, ${pipe.bytes} of ${size} bytes`);
  await settle();
  const sampler = new RssSampler(serverPid, 20);
  const meter = new CpuMeter({ server: serverPid, emulators: emulatorPid });
  const parts = await fetchParts(partUrls);
  const cpuPercent = meter.read();
  const rss = sampler.stop();
  if (parts.status.some((s) => s !== 200) || parts.bytes !== size) throw new Error(`parts: statuses ${parts.status.join(',')}, ${parts.bytes} of ${size} bytes`);
  const peak = Math.max(rss.peakSampled, rss.peakHwm ?? 0);
  const mib = size / (1024 * 1024);
  return {
    direct,
    pipe,
    parts,
    ratioToPipe: parts.mibPerSec / pipe.mibPerSec,
    ratioToDirect: parts.mibPerSec / direct.mibPerSec,
    pipeRatio: pipe.mibPerSec / direct.mibPerSec,
    serverRss: { ...rss, growth: peak - rss.baseline },
    cpuPercent,
    cpuMsPerMib: { gateway: ((cpuPercent.server ?? NaN) / 100) * (parts.totalMs / mib), barePipe: ((pipeCpu.pipe ?? NaN) / 100) * (pipe.totalMs / mib) },
  };
}
