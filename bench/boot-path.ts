// `npx tsx bench/boot-path.ts [--cpu-prof DIR]`: the boot path's step of `npm run bench` on
// its own (issue 15's targets): GET /boot.ipxe at 50 concurrent keep-alive clients, limits
// on, against GET /health/liveness on the same gateway in the same run, with the gateway's
// CPU per request. With --cpu-prof the gateway writes a V8 CPU profile of the boot-script
// load to DIR (summarise it with `npx tsx bench/cpu-profile.ts DIR/*.cpuprofile`).
import { randomBytes } from 'node:crypto';
import { loadConfig } from '../shared/config';
import { createClients } from '../shared/clients';
import { createBootFleet, MiB, writeBlob } from './fixtures';
import { runLoad, type LoadResult } from './load';
import { startChild, stopAllChildren, type Child } from './proc';

const QUICK = process.env.BENCH_QUICK === '1';
/** Under RATE_LIMIT_BOOT_PER_MAC (10 a minute): nothing is refused, the limiter does production's work per request. */
export const REQUESTS_PER_MAC = 8;
export const BOOT_LOAD = { concurrency: 50, warmupRequests: 300, maxRequests: 4000, maxMs: QUICK ? 2_000 : 10_000 };
export const macsFor = (load: { warmupRequests: number; maxRequests: number }) => Math.ceil((load.warmupRequests + load.maxRequests) / REQUESTS_PER_MAC);

export interface BootPathResult {
  boot: LoadResult;
  liveness: LoadResult;
  /** Boot script throughput / liveness throughput (target >= 0.2). */
  throughputRatio: number;
  /** Gateway CPU per boot script, ms (target <= 1.5). */
  bootCpuMs: number;
  livenessCpuMs: number;
}

export function cpuPerRequestMs(run: LoadResult, name = 'server'): number {
  return ((run.cpuPercent[name] ?? NaN) / 100) * (run.durationMs / Math.max(1, run.requests));
}

/** Boot scripts for `macs` (each asked at most REQUESTS_PER_MAC times, in turn), then liveness, on one gateway. */
export async function measureBootPath(gateway: Child & { url: string }, macs: readonly string[], watch: Record<string, number>): Promise<BootPathResult> {
  const urls = macs.map((mac) => `${gateway.url}/boot.ipxe?mac=${encodeURIComponent(mac)}`);
  const boot = await runLoad({ urls, ...BOOT_LOAD, expectStatus: 200, watch: { server: gateway.pid, ...watch } });
  const liveness = await runLoad({ urls: [`${gateway.url}/health/liveness`], ...BOOT_LOAD, maxRequests: 20_000, expectStatus: 200, watch: { server: gateway.pid, ...watch } });
  return {
    boot,
    liveness,
    throughputRatio: boot.throughputRps / liveness.throughputRps,
    bootCpuMs: cpuPerRequestMs(boot),
    livenessCpuMs: cpuPerRequestMs(liveness),
  };
}

async function main(): Promise<void> {
  const profDir = process.argv.includes('--cpu-prof') ? process.argv[process.argv.indexOf('--cpu-prof') + 1] : undefined;
  const suffix = randomBytes(4).toString('hex');
  const project = `demo-bench-${suffix}`;
  Object.assign(process.env, { GOOGLE_CLOUD_PROJECT: project, BLOB_BUCKET: `${project}-blobs`, METADATA_SERVER_DETECTION: 'none' });
  const emulators = await startChild('emulators.ts', { ...process.env });
  if (!('firestoreHost' in emulators.ready)) throw new Error('emulators child sent no hosts');
  Object.assign(process.env, { FIRESTORE_EMULATOR_HOST: emulators.ready.firestoreHost, STORAGE_EMULATOR_HOST: emulators.ready.storageHost });
  const clients = createClients(loadConfig(process.env));
  const nodeArgs = profDir ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : [];
  const child = await startChild('../emulators/gateway-process.ts', { ...process.env, LOG_LEVEL: 'warn', ASSET_DELIVERY: 'proxy' }, process.env.BENCH_GATEWAY_LOG ? 'inherit' : 'ignore', nodeArgs);
  if (!('url' in child.ready)) throw new Error('gateway child sent no url');
  const gateway = { ...child, url: child.ready.url };
  try {
    const kernel = await writeBlob(clients, randomBytes(MiB));
    const initrd = await writeBlob(clients, randomBytes(2 * MiB));
    const macs = await createBootFleet(clients, macsFor(BOOT_LOAD), { kernel: { ...kernel, args: ['console=ttyS0', 'hostname={{hostname}}'] }, initrd });
    if (profDir) {
      // Profiling: the boot-script load only, so that the profile is that path (plus start-up).
      const urls = macs.map((mac) => `${gateway.url}/boot.ipxe?mac=${encodeURIComponent(mac)}`);
      const boot = await runLoad({ urls, ...BOOT_LOAD, expectStatus: 200, watch: { server: gateway.pid, emulators: emulators.pid } });
      const total = BOOT_LOAD.warmupRequests + boot.requests;
      process.stdout.write(`boot.ipxe: ${boot.throughputRps.toFixed(0)} req/s, ${total} boot scripts in all (warm-up included); gateway ${cpuPerRequestMs(boot).toFixed(2)} ms CPU per request; profile in ${profDir}\n`);
      process.stdout.write(`summary: npx tsx bench/cpu-profile.ts ${profDir}/<the larger .cpuprofile> 15 ${total}\n`);
      return;
    }
    const result = await measureBootPath(gateway, macs, { emulators: emulators.pid });
    const line = (name: string, r: LoadResult, cpuMs: number) =>
      `${name}: ${r.throughputRps.toFixed(0)} req/s, p50 ${r.p50Ms.toFixed(1)} ms, p99 ${r.p99Ms.toFixed(1)} ms, ${r.requests} requests, ${r.errors} errors; gateway ${cpuMs.toFixed(2)} ms CPU per request; emulators ${(r.cpuPercent.emulators ?? NaN).toFixed(0)} % of a core${r.firstError ? `; first error ${r.firstError}` : ''}`;
    process.stdout.write(`${line('boot.ipxe', result.boot, result.bootCpuMs)}\n${line('liveness', result.liveness, result.livenessCpuMs)}\nthroughput boot / liveness = ${result.throughputRatio.toFixed(3)}\n`);
  } catch (err) {
    process.stderr.write(`boot-path: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  } finally {
    await gateway.stop();
    await stopAllChildren();
    await clients.firestore.terminate();
  }
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  });
}
