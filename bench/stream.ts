// One large GET, timed: headers, first body byte, last byte; optionally hashed.
import { createHash } from 'node:crypto';
import http from 'node:http';
import { CpuMeter, RssSampler } from './proc';

export interface GetTiming {
  status: number;
  bytes: number;
  headersMs: number;
  firstByteMs: number;
  totalMs: number;
  mibPerSec: number;
  /** 'data' events the client saw: their average size shows how the sender writes. */
  chunks: number;
  sha256?: string;
}

/** A fresh connection per GET, the body counted (and hashed when asked) as it arrives. */
export function timedGet(url: string, opts: { hash?: boolean; headers?: Record<string, string> } = {}): Promise<GetTiming> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const req = http.get(url, { agent: false, headers: opts.headers ?? {} }, (res) => {
      const headersMs = performance.now() - start;
      let firstByteMs = NaN;
      let bytes = 0;
      let chunks = 0;
      const hash = opts.hash ? createHash('sha256') : undefined;
      res.on('data', (chunk: Buffer) => {
        if (bytes === 0) firstByteMs = performance.now() - start;
        bytes += chunk.length;
        chunks++;
        hash?.update(chunk);
      });
      res.on('end', () => {
        const totalMs = performance.now() - start;
        resolve({
          status: res.statusCode ?? 0,
          bytes,
          headersMs,
          firstByteMs,
          totalMs,
          mibPerSec: bytes / (1024 * 1024) / (totalMs / 1000),
          chunks,
          ...(hash ? { sha256: hash.digest('hex') } : {}),
        });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

export interface StreamRound {
  direct: GetTiming;
  /** Through a bare node:http pipe proxy: the ceiling for any proxy process here. */
  pipe: GetTiming;
  proxy: GetTiming;
  ratio: number;
  pipeRatio: number;
  serverRss: { baseline: number; peakSampled: number; peakHwm: number | null; end: number; samples: number; growth: number };
  cpuPercent: Record<string, number>;
  /** CPU ms per MiB moved: the gateway on the proxied read, the bare pipe process on its read. */
  cpuMsPerMib: { gateway: number; barePipe: number };
}

/**
 * Direct read and proxied read of the same object, back to back; the gateway's RSS is
 * sampled (and its VmHWM reset) for the proxied one.
 */
export async function streamRound(directUrl: string, pipeUrl: string, proxyUrl: string, size: number, serverPid: number, emulatorPid: number, pipePid: number): Promise<StreamRound> {
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
  const proxy = await timedGet(proxyUrl);
  const cpuPercent = meter.read();
  const rss = sampler.stop();
  if (proxy.status !== 200 || proxy.bytes !== size) throw new Error(`proxied read: status ${proxy.status}, ${proxy.bytes} of ${size} bytes`);
  const peak = Math.max(rss.peakSampled, rss.peakHwm ?? 0);
  const mib = size / (1024 * 1024);
  const cpuMsPerMib = { gateway: ((cpuPercent.server ?? NaN) / 100) * (proxy.totalMs / mib), barePipe: ((pipeCpu.pipe ?? NaN) / 100) * (pipe.totalMs / mib) };
  return { direct, pipe, proxy, ratio: proxy.mibPerSec / direct.mibPerSec, pipeRatio: pipe.mibPerSec / direct.mibPerSec, serverRss: { ...rss, growth: peak - rss.baseline }, cpuPercent, cpuMsPerMib };
}

/** Lets buffers of the previous transfer be freed before the next baseline. */
export function settle(ms = 300): Promise<void> {
  return new Promise((ok) => setTimeout(ok, ms));
}
