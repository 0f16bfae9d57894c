// `npx tsx bench/boot-path.ts [--cpu-prof DIR | --telemetry [ROUNDS]]`: the boot path's step of
// `npm run bench` on its own (issue 15's targets): GET /boot.ipxe at 50 concurrent keep-alive
// clients, limits on, against GET /health/liveness on the same gateway in the same run, with
// the gateway's CPU per request. With --cpu-prof the gateway writes a V8 CPU profile of the
// boot-script load to DIR (summarise it with `npx tsx bench/cpu-profile.ts DIR/*.cpuprofile`).
// --telemetry: telemetry off and on side by side on fresh gateways (issue 12's target).
// --tls [ROUNDS] [rsa]: plain HTTP and HTTPS gateways side by side (issue 20's bench line,
// bench/tls.ts): boot-script throughput and the 150 MiB initrd in proxy mode.
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadConfig } from '../shared/config';
import { createClients } from '../shared/clients';
import { createBootFleet, MiB, writeBlob } from './fixtures';
import { runLoad, type LoadResult } from './load';
import { startChild, stopAllChildren, type Child } from './proc';
import { median } from './report';
// bench/tls.ts takes BOOT_LOAD and macsFor from here; both are read at call time, so the cycle is harmless.
import { compareTls, tlsLines } from './tls';

const QUICK = process.env.BENCH_QUICK === '1';
/** Under RATE_LIMIT_BOOT_PER_MAC (10 a minute): nothing is refused, the limiter does production's work per request. */
export const REQUESTS_PER_MAC = 8;
export const BOOT_LOAD = { concurrency: 50, warmupRequests: 300, maxRequests: 4000, maxMs: QUICK ? 2_000 : 10_000 };
export const macsFor = (load: { warmupRequests: number; maxRequests: number }) => Math.ceil((load.warmupRequests + load.maxRequests) / REQUESTS_PER_MAC);

/**
 * Each simulated machine asks from an address of its own, as a fleet does (so the per-address
 * limit counts per machine, as in production, and no loopback address takes the whole load):
 * sent as X-Forwarded-For to a gateway that trusts one more hop (BOOT_GATEWAY_ENV).
 */
export const BOOT_GATEWAY_ENV = { TRUSTED_PROXY_HOPS: '2' };
export function bootRequests(gatewayUrl: string, macs: readonly string[]): { urls: string[]; headers: Record<string, string>[] } {
  return {
    urls: macs.map((mac) => `${gatewayUrl}/boot.ipxe?mac=${encodeURIComponent(mac)}`),
    headers: macs.map((_, i) => fromMachine(i)),
  };
}

/** One URL asked by `machines` machines in turn, each from its own address (as bootRequests). */
export function fleetRequests(url: string, machines: number): { urls: string[]; headers: Record<string, string>[] } {
  return { urls: Array.from({ length: machines }, () => url), headers: Array.from({ length: machines }, (_, i) => fromMachine(i)) };
}

function fromMachine(i: number): Record<string, string> {
  return { 'x-forwarded-for': `127.${1 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}` };
}

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
  const boot = await runLoad({ ...bootRequests(gateway.url, macs), ...BOOT_LOAD, expectStatus: 200, watch: { server: gateway.pid, ...watch } });
  const liveness = await runLoad({ urls: [`${gateway.url}/health/liveness`], ...BOOT_LOAD, maxRequests: 20_000, expectStatus: 200, watch: { server: gateway.pid, ...watch } });
  return {
    boot,
    liveness,
    throughputRatio: boot.throughputRps / liveness.throughputRps,
    bootCpuMs: cpuPerRequestMs(boot),
    livenessCpuMs: cpuPerRequestMs(liveness),
  };
}

export interface TelemetryComparison {
  /** Each run in the order it ran. */
  runs: { mode: 'off' | 'on'; cpuMs: number; result: LoadResult }[];
  /** Medians of the gateway CPU per boot script. */
  offCpuMs: number;
  onCpuMs: number;
  /** onCpuMs / offCpuMs (issue 12's target: <= 1.10). */
  ratio: number;
  exports: { traces: number; metrics: number };
}

/**
 * The boot-script load with telemetry off and on (OTLP/HTTP protobuf to a sink in this process),
 * each run on a fresh gateway with MACs of its own (`macs`: 2 x rounds x macsFor(load), made by
 * the caller), the order swapped every round so that drift on the machine falls on both sides.
 */
export async function compareTelemetry(opts: { macs: readonly string[]; rounds: number; load: typeof BOOT_LOAD; emulatorsPid: number }): Promise<TelemetryComparison> {
  const perRun = macsFor(opts.load);
  if (opts.macs.length < 2 * opts.rounds * perRun) throw new Error(`compareTelemetry needs ${2 * opts.rounds * perRun} MACs, got ${opts.macs.length}`);
  const exports = { traces: 0, metrics: 0 };
  const sink = createServer((req, res) => {
    if (req.url === '/v1/traces') exports.traces++;
    if (req.url === '/v1/metrics') exports.metrics++;
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end());
  });
  await new Promise<void>((ok) => sink.listen(0, '127.0.0.1', ok));
  const otel = { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${(sink.address() as AddressInfo).port}`, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf', OTEL_BSP_SCHEDULE_DELAY: '500', OTEL_METRIC_EXPORT_INTERVAL: '5000' };
  const runs: TelemetryComparison['runs'] = [];
  try {
    for (let round = 0; round < opts.rounds; round++) {
      for (const mode of round % 2 === 0 ? (['off', 'on'] as const) : (['on', 'off'] as const)) {
        const macs = opts.macs.slice(runs.length * perRun, (runs.length + 1) * perRun);
        const child = await startChild('../emulators/gateway-process.ts', { ...process.env, LOG_LEVEL: 'warn', ASSET_DELIVERY: 'proxy', ...BOOT_GATEWAY_ENV, ...(mode === 'on' ? otel : {}) });
        if (!('url' in child.ready)) throw new Error('gateway child sent no url');
        const url = child.ready.url;
        try {
          const result = await runLoad({ ...bootRequests(url, macs), ...opts.load, expectStatus: 200, watch: { server: child.pid, emulators: opts.emulatorsPid } });
          runs.push({ mode, cpuMs: cpuPerRequestMs(result), result });
        } finally {
          await child.stop();
        }
      }
    }
  } finally {
    await new Promise<void>((ok) => sink.close(() => ok()));
  }
  const med = (mode: 'off' | 'on') => median(runs.filter((r) => r.mode === mode).map((r) => r.cpuMs));
  return { runs, offCpuMs: med('off'), onCpuMs: med('on'), ratio: med('on') / med('off'), exports };
}

/** `--telemetry [rounds]`: compareTelemetry on its own. */
async function telemetrySideBySide(clients: ReturnType<typeof createClients>, emulatorsPid: number, rounds: number): Promise<void> {
  const load = { ...BOOT_LOAD, maxRequests: 2000 };
  const kernel = await writeBlob(clients, randomBytes(MiB));
  const initrd = await writeBlob(clients, randomBytes(2 * MiB));
  const macs = await createBootFleet(clients, 2 * rounds * macsFor(load), { kernel: { ...kernel, args: ['console=ttyS0', 'hostname={{hostname}}'] }, initrd });
  const c = await compareTelemetry({ macs, rounds, load, emulatorsPid });
  for (const [i, r] of c.runs.entries()) {
    process.stdout.write(`run ${i + 1}, telemetry ${r.mode}: ${r.result.throughputRps.toFixed(0)} req/s, ${r.result.requests} requests, ${r.result.errors} errors; gateway ${r.cpuMs.toFixed(2)} ms CPU per request\n`);
  }
  process.stdout.write(`gateway CPU per boot script, median: on ${c.onCpuMs.toFixed(2)} ms / off ${c.offCpuMs.toFixed(2)} ms = ${c.ratio.toFixed(2)} (target <= 1.10); the sink received ${c.exports.traces} trace and ${c.exports.metrics} metric exports\n`);
}

/** `--tls [rounds] [rsa]`: compareTls on its own, with fixtures of its own. */
async function tlsSideBySide(clients: ReturnType<typeof createClients>, emulatorsPid: number, rounds: number, keyType: 'ecdsa' | 'rsa'): Promise<void> {
  const load = BOOT_LOAD;
  const initrdBytes = (QUICK ? 24 : 150) * MiB;
  const kernel = await writeBlob(clients, randomBytes(MiB));
  const initrd = await writeBlob(clients, randomBytes(2 * MiB));
  const macs = await createBootFleet(clients, 2 * rounds * macsFor(load), { kernel: { ...kernel, args: ['console=ttyS0', 'hostname={{hostname}}'] }, initrd });
  const big = await writeBlob(clients, randomBytes(initrdBytes));
  const [initrdMac] = await createBootFleet(clients, 1, { kernel: { ...kernel, args: ['console=ttyS0'] }, initrd: big });
  const c = await compareTls({ macs, initrdMac: initrdMac as string, initrdBytes, rounds, load, emulatorsPid, keyType });
  process.stdout.write(`${tlsLines(c, initrdBytes / MiB).join('\n')}\n`);
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
  if (process.argv.includes('--telemetry')) {
    try {
      await telemetrySideBySide(clients, emulators.pid, Number(process.argv[process.argv.indexOf('--telemetry') + 1] ?? '') || 3);
    } finally {
      await stopAllChildren();
      await clients.firestore.terminate();
    }
    return;
  }
  if (process.argv.includes('--tls')) {
    const rounds = Number(process.argv[process.argv.indexOf('--tls') + 1] ?? '') || 2;
    try {
      await tlsSideBySide(clients, emulators.pid, rounds, process.argv.includes('rsa') ? 'rsa' : 'ecdsa');
    } finally {
      await stopAllChildren();
      await clients.firestore.terminate();
    }
    return;
  }
  const nodeArgs = profDir ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : [];
  const child = await startChild('../emulators/gateway-process.ts', { ...process.env, LOG_LEVEL: 'warn', ASSET_DELIVERY: 'proxy', ...BOOT_GATEWAY_ENV }, process.env.BENCH_GATEWAY_LOG ? 'inherit' : 'ignore', nodeArgs);
  if (!('url' in child.ready)) throw new Error('gateway child sent no url');
  const gateway = { ...child, url: child.ready.url };
  try {
    const kernel = await writeBlob(clients, randomBytes(MiB));
    const initrd = await writeBlob(clients, randomBytes(2 * MiB));
    const macs = await createBootFleet(clients, macsFor(BOOT_LOAD), { kernel: { ...kernel, args: ['console=ttyS0', 'hostname={{hostname}}'] }, initrd });
    if (profDir) {
      // Profiling: the boot-script load only, so that the profile is that path (plus start-up).
      const boot = await runLoad({ ...bootRequests(gateway.url, macs), ...BOOT_LOAD, expectStatus: 200, watch: { server: gateway.pid, emulators: emulators.pid } });
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
