// `npm run bench`: boot-path latency, asset streaming, redirects and upload memory against
// the local stack. The emulators and each gateway run in child processes of their own, so
// the gateway's RSS and CPU are measured alone. Prints a table, writes bench/results.json.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { CRC32C } from '@google-cloud/storage';
import { createClients, type Clients } from '../shared/clients';
import { loadConfig } from '../shared/config';
import { blobObjectName } from '../shared/storage/blobs';
import { createBootFleet, createMachine, createProfileWithBigInitrd, MiB } from './fixtures';
import { runLoad, type LoadResult } from './load';
import { CpuMeter, startChild, stopAllChildren, type Child } from './proc';
import { median, mib, ms, pct, table, type Row } from './report';
import { settle, streamRound, timedGet, type StreamRound } from './stream';
import { uploadRun, type UploadRun } from './upload';

const STREAM_BYTES = 150 * MiB;
const STREAM_ROUNDS = 3;
const UPLOAD_BODY = 30 * MiB;
const UPLOAD_KERNEL = 29 * MiB;
const UPLOAD_RUNS = 3;
const TOTAL_TIMEOUT_MS = 6 * 60_000;
/**
 * Boot script runs use MACs of their own, each asked at most REQUESTS_PER_MAC times (in
 * turn): under RATE_LIMIT_BOOT_PER_MAC (default 10 a minute), so nothing is refused and the
 * limiter does the same work per request as in production. A run's request count is
 * therefore bounded by its MACs as well as by maxRequests and maxMs.
 */
const REQUESTS_PER_MAC = 8;
const MACS_PER_RUN = 250;
const LOAD = { concurrency: 50, warmupRequests: 200, maxRequests: Math.min(3000, MACS_PER_RUN * REQUESTS_PER_MAC - 200), maxMs: 10_000 };
const SINGLE = { concurrency: 1, warmupRequests: 20, maxRequests: 300, maxMs: 3_000 };
const macsFor = (load: { warmupRequests: number; maxRequests: number }) => Math.ceil((load.warmupRequests + load.maxRequests) / REQUESTS_PER_MAC);

const out = (line = '') => process.stdout.write(`${line}\n`);
const progress = (line: string) => process.stderr.write(`[bench ${((performance.now() - t0) / 1000).toFixed(1)}s] ${line}\n`);
const t0 = performance.now();

/** The commit measured, and how many files outside bench/ differ from it (others edit the tree meanwhile). */
function codeVersion(): string {
  try {
    const git = (...args: string[]) => execFileSync('git', args, { cwd: resolve(__dirname, '..'), encoding: 'utf8' }).trim();
    const changed = git('status', '--porcelain').split('\n').filter((l) => l && !/ (bench\/|BENCHMARKS\.md)/.test(l)).length;
    return `${git('rev-parse', '--short', 'HEAD')}${changed ? ` + ${changed} uncommitted file(s) outside bench/` : ''}`;
  } catch {
    return 'unknown (no git)';
  }
}

function machineInfo() {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? cpus()[0]?.model ?? 'unknown';
  const memKb = Number(/^MemTotal:\s+(\d+)/m.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1] ?? NaN);
  return {
    command: 'npm run bench',
    date: new Date().toISOString(),
    node: process.version,
    cpuModel: model,
    cores: cpus().length,
    memoryGiB: Math.round((memKb / 1024 / 1024) * 10) / 10,
    kernel: readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim(),
    /** Other work on the machine skews every number below: shown so that a busy run is recognisable. */
    loadAverageAtStart: readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' '),
    code: codeVersion(),
  };
}

/** CPU other processes use over one second, in percent of a core (this process is idle meanwhile). */
async function foreignLoad(): Promise<number> {
  const meter = new CpuMeter({});
  await settle(1000);
  return meter.read().other ?? NaN;
}

async function main(): Promise<void> {
  let clients: Clients | undefined;
  const meta = { ...machineInfo(), otherCpuAtStartPercent: await foreignLoad() };
  out(`command: ${meta.command}`);
  out(`date:    ${meta.date}`);
  out(`node:    ${meta.node}`);
  out(`code:    ${meta.code}`);
  out(`cpu:     ${meta.cpuModel}, ${meta.cores} cores, ${meta.memoryGiB} GiB RAM, Linux ${meta.kernel}`);
  out(`load:    ${meta.loadAverageAtStart} (1/5/15 min load average at start); other processes used ${pct(meta.otherCpuAtStartPercent)} of a core in the second before`);
  if (meta.otherCpuAtStartPercent > 25) out('WARNING: the machine is busy with work this benchmark did not start; see the "not ours" CPU of each step.');
  out();

  const suffix = randomBytes(4).toString('hex');
  const project = `demo-bench-${suffix}`;
  const bucket = `${project}-blobs`;
  const logDir = mkdtempSync(join(tmpdir(), 'netboot-bench-'));
  tempDirs.push(logDir);
  Object.assign(process.env, { GOOGLE_CLOUD_PROJECT: project, BLOB_BUCKET: bucket, METADATA_SERVER_DETECTION: 'none' });

  try {
    progress('starting emulators (child process)');
    const emulators = await startChild('emulators.ts', { ...process.env });
    if (!('firestoreHost' in emulators.ready)) throw new Error('emulators child sent no hosts');
    const { firestoreHost, storageHost } = emulators.ready;
    Object.assign(process.env, { FIRESTORE_EMULATOR_HOST: firestoreHost, STORAGE_EMULATOR_HOST: storageHost });
    clients = createClients(loadConfig(process.env));

    // --- what the client and loopback manage against a bare node:http server ---
    progress('calibration: bare node:http server, 50 concurrent clients');
    const echo = await startChild('echo-server.ts', { ...process.env });
    if (!('url' in echo.ready)) throw new Error('echo child sent no url');
    const echoUrl = echo.ready.url;
    const ceiling = await runLoad({ urls: [echoUrl], concurrency: LOAD.concurrency, warmupRequests: LOAD.warmupRequests, maxRequests: 10_000, maxMs: 3_000, expectStatus: 200, watch: { server: echo.pid } });

    const startServer = async (env: Record<string, string>, stdout: number | 'ignore' = 'ignore'): Promise<Child & { url: string }> => {
      const child = await startChild('../emulators/gateway-process.ts', { ...process.env, LOG_LEVEL: 'warn', ASSET_DELIVERY: 'proxy', KERNEL_MAX_BYTES: String(64 * MiB), ...env }, stdout);
      if (!('url' in child.ready)) throw new Error('server child sent no url');
      return { ...child, url: child.ready.url };
    };

    // --- proxy mode, LOG_LEVEL=warn: fixtures, the 150 MiB stream, then boot.ipxe ---
    progress('gateway: ASSET_DELIVERY=proxy LOG_LEVEL=warn');
    const proxyServer = await startServer({});
    const machine = await createMachine(proxyServer.url);
    progress(`writing a ${mib(STREAM_BYTES)} initrd to the Storage emulator (resumable session, one streamed PUT)`);
    const { profile, initrdSha256, uploadMs } = await createProfileWithBigInitrd(clients, machine.id, STREAM_BYTES);
    const proxyUrl = `${proxyServer.url}/asset/${profile.id}/initrd`;
    const directUrl = `${storageHost}/download/storage/v1/b/${bucket}/o/${encodeURIComponent(blobObjectName(profile.initrd.id))}?alt=media`;
    const pipeUrl = `${echoUrl}/pipe?u=${encodeURIComponent(directUrl)}`;

    progress('stream: warm-up and one verified full read through the gateway');
    await timedGet(directUrl, { headers: { range: 'bytes=0-1023' } });
    await timedGet(proxyUrl, { headers: { range: 'bytes=0-1023' } });
    const verify = await timedGet(proxyUrl, { hash: true });
    if (verify.sha256 !== initrdSha256 || verify.bytes !== STREAM_BYTES) throw new Error(`proxied initrd differs: ${verify.bytes} bytes, sha256 ${verify.sha256}`);
    await settle(500);
    const rounds: StreamRound[] = [];
    for (let i = 0; i < STREAM_ROUNDS; i++) {
      progress(`stream round ${i + 1}/${STREAM_ROUNDS}`);
      rounds.push(await streamRound(directUrl, pipeUrl, proxyUrl, STREAM_BYTES, proxyServer.pid, emulators.pid, echo.pid));
    }
    await echo.stop();

    // One MAC per request slot: each run has MACs of its own, at most REQUESTS_PER_MAC requests each.
    const fleetSize = 2 * macsFor(LOAD) + macsFor(SINGLE);
    progress(`boot fleet: ${fleetSize} machines with profiles (repository layer)`);
    const fleetStart = performance.now();
    const fleet = await createBootFleet(clients, fleetSize, { kernel: profile.kernel, initrd: profile.initrd });
    const fleetMs = performance.now() - fleetStart;
    const macSets = { warn: fleet.slice(0, macsFor(LOAD)), info: fleet.slice(macsFor(LOAD), 2 * macsFor(LOAD)), single: fleet.slice(2 * macsFor(LOAD)) };
    const bootUrls = (base: string, macs: readonly string[]) => macs.map((mac) => `${base}/boot.ipxe?mac=${encodeURIComponent(mac)}`);

    progress('boot.ipxe, LOG_LEVEL=warn');
    const bootWarn = await runLoad({ urls: bootUrls(proxyServer.url, macSets.warn), ...LOAD, expectStatus: 200, watch: { server: proxyServer.pid, emulators: emulators.pid } });
    progress('boot.ipxe, LOG_LEVEL=warn, one client (service time without queueing)');
    const bootSingle = await runLoad({ urls: bootUrls(proxyServer.url, macSets.single), ...SINGLE, expectStatus: 200, watch: { server: proxyServer.pid, emulators: emulators.pid } });
    await proxyServer.stop();

    // --- LOG_LEVEL=info: one JSON access-log line per request, to a file ---
    progress('gateway: LOG_LEVEL=info (access log on); boot.ipxe');
    const logPath = join(logDir, 'server-info.log');
    const logFd = openSync(logPath, 'w');
    const infoServer = await startServer({ LOG_LEVEL: 'info' }, logFd);
    closeSync(logFd);
    const bootInfo = await runLoad({ urls: bootUrls(infoServer.url, macSets.info), ...LOAD, expectStatus: 200, watch: { server: infoServer.pid, emulators: emulators.pid } });
    await infoServer.stop();
    const logBytes = statSync(logPath).size;
    const logLines = readFileSync(logPath, 'utf8').split('\n').filter((line) => line.startsWith('{')).length;

    // --- the same with the per-MAC limiter off: what counting each request costs ---
    progress('gateway: RATE_LIMIT_BOOT_PER_MAC=0 (limiter off); boot.ipxe');
    const noLimitServer = await startServer({ RATE_LIMIT_BOOT_PER_MAC: '0' });
    const bootNoLimit = await runLoad({ urls: bootUrls(noLimitServer.url, macSets.warn), ...LOAD, expectStatus: 200, watch: { server: noLimitServer.pid, emulators: emulators.pid } });
    await noLimitServer.stop();

    // --- redirect mode: 302 with a warm signed-URL cache ---
    progress('gateway: ASSET_DELIVERY=redirect; /asset/{id}/kernel');
    const redirectServer = await startServer({ ASSET_DELIVERY: 'redirect' });
    // No per-MAC budget here: the full 3000 requests (or 10 s).
    const redirect = await runLoad({ urls: [`${redirectServer.url}/asset/${profile.id}/kernel`], ...LOAD, maxRequests: 3000, expectStatus: 302, watch: { server: redirectServer.pid, emulators: emulators.pid } });
    await redirectServer.stop();

    // --- upload memory: a fresh gateway per run, warmed by one small upload ---
    const uploads: UploadRun[] = [];
    for (let i = 0; i < UPLOAD_RUNS; i++) {
      progress(`upload run ${i + 1}/${UPLOAD_RUNS}: fresh gateway, warm-up upload, then ${mib(UPLOAD_BODY)}`);
      const server = await startServer({});
      const warm = await createMachine(server.url);
      await uploadRun(server.url, server.pid, warm.id, 512 * 1024, MiB);
      const target = await createMachine(server.url);
      uploads.push(await uploadRun(server.url, server.pid, target.id, UPLOAD_KERNEL, UPLOAD_BODY));
      await server.stop();
    }

    // --- not in the product's emulator path: @google-cloud/storage's JS CRC32C ---
    progress('CRC32C (JavaScript, as @google-cloud/storage validates full reads and uploads)');
    const crcData = randomBytes(32 * MiB);
    const crcRuns: number[] = [];
    for (let i = 0; i < 3; i++) {
      // In 64 KiB pieces, as a stream hands them over; the best of three (JIT-warm).
      const crc = new CRC32C();
      const crcStart = performance.now();
      for (let offset = 0; offset < crcData.length; offset += 64 * 1024) crc.update(crcData.subarray(offset, offset + 64 * 1024));
      crcRuns.push(32 / ((performance.now() - crcStart) / 1000));
    }
    const crcMibPerSec = Math.max(...crcRuns);

    progress('stopping emulators');
    await emulators.stop();

    // --- report ---
    const ratios = rounds.map((r) => r.ratio);
    const ttfbs = rounds.map((r) => r.proxy.firstByteMs);
    const growths = rounds.map((r) => r.serverRss.growth);
    const cpuText = (c: Record<string, number>) =>
      [`client ${pct(c.client)}`, ...Object.entries(c).filter(([k]) => k !== 'client' && k !== 'other').map(([k, v]) => `${k === 'server' ? 'gateway' : k} ${pct(v)}`), `not ours ${pct(c.other)}`].join(', ');
    const cpuPerRequest = (r: LoadResult) => (((r.cpuPercent.server ?? NaN) / 100) * r.durationMs) / r.requests;
    const loadRows = (label: string, r: LoadResult, targets: boolean): Row[] => [
      { name: `${label} p50`, value: ms(r.p50Ms), ...(targets ? { target: '< 10 ms', met: r.p50Ms < 10 } : {}) },
      { name: `${label} p99`, value: ms(r.p99Ms), ...(targets ? { target: '< 50 ms', met: r.p99Ms < 50 } : {}) },
      { name: `${label} max`, value: ms(r.maxMs) },
      { name: `${label} throughput`, value: `${r.throughputRps.toFixed(0)} req/s (${r.requests} req, ${(r.durationMs / 1000).toFixed(1)} s, ${r.errors} errors)` },
      { name: `${label} CPU (1 core = 100%)`, value: `${cpuText(r.cpuPercent)}; gateway ${ms(cpuPerRequest(r))} CPU per request` },
    ];
    out(
      table(`1. GET /boot.ipxe, 50 concurrent keep-alive clients, through the local gateway (${macSets.warn.length} MACs per run, <= ${REQUESTS_PER_MAC} requests each)`, [
        { name: 'calibration: bare node:http server', value: `${ceiling.throughputRps.toFixed(0)} req/s, p50 ${ms(ceiling.p50Ms)}, p99 ${ms(ceiling.p99Ms)}; ${cpuText(ceiling.cpuPercent)}` },
        ...loadRows('LOG_LEVEL=warn', bootWarn, true),
        { name: 'LOG_LEVEL=warn, 1 client', value: `p50 ${ms(bootSingle.p50Ms)}, p99 ${ms(bootSingle.p99Ms)}, ${bootSingle.throughputRps.toFixed(0)} req/s; ${cpuText(bootSingle.cpuPercent)}; gateway ${ms(cpuPerRequest(bootSingle))} CPU per request` },
        ...loadRows('LOG_LEVEL=info', bootInfo, true),
        ...loadRows('LOG_LEVEL=warn, per-MAC limiter off', bootNoLimit, false),
        { name: 'fixture: boot fleet (machines + profiles)', value: `${fleet.length} in ${(fleetMs / 1000).toFixed(1)} s` },
        { name: 'LOG_LEVEL=info access log', value: `${logLines} lines, ${(logBytes / Math.max(1, logLines)).toFixed(0)} bytes/line` },
      ]),
    );
    out();
    out(
      table(`2. Proxy stream of a ${mib(STREAM_BYTES)} initrd (ASSET_DELIVERY=proxy), ${STREAM_ROUNDS} rounds, median [min..max]`, [
        { name: 'direct: plain GET of the emulator media URL', value: `${median(rounds.map((r) => r.direct.mibPerSec)).toFixed(0)} MiB/s, TTFB ${ms(median(rounds.map((r) => r.direct.firstByteMs)))}` },
        { name: 'bare node:http pipe proxy (yardstick)', value: `${median(rounds.map((r) => r.pipe.mibPerSec)).toFixed(0)} MiB/s = ${median(rounds.map((r) => r.pipeRatio)).toFixed(2)} x direct` },
        { name: 'proxy: GET /asset/{id}/initrd', value: `${median(rounds.map((r) => r.proxy.mibPerSec)).toFixed(0)} MiB/s = ${median(rounds.map((r) => r.proxy.mibPerSec / r.pipe.mibPerSec)).toFixed(2)} x bare pipe` },
        { name: 'CPU per MiB moved: bare pipe / gateway', value: `${ms(median(rounds.map((r) => r.cpuMsPerMib.barePipe)))} / ${ms(median(rounds.map((r) => r.cpuMsPerMib.gateway)))}` },
        { name: 'throughput ratio proxy / direct', value: `${median(ratios).toFixed(2)} [${Math.min(...ratios).toFixed(2)}..${Math.max(...ratios).toFixed(2)}]`, target: '>= 0.9', met: median(ratios) >= 0.9 },
        { name: 'proxy time to first body byte', value: `${ms(median(ttfbs))} [${ms(Math.min(...ttfbs))}..${ms(Math.max(...ttfbs))}]`, target: '< 100 ms', met: median(ttfbs) < 100 },
        { name: 'proxy time to response headers', value: ms(median(rounds.map((r) => r.proxy.headersMs))) },
        { name: 'TTFB the gateway adds (proxy - direct)', value: ms(median(rounds.map((r) => r.proxy.firstByteMs - r.direct.firstByteMs))) },
        { name: 'average chunk the client reads: direct / proxy', value: `${(median(rounds.map((r) => r.direct.bytes / r.direct.chunks)) / 1024).toFixed(0)} KiB / ${(median(rounds.map((r) => r.proxy.bytes / r.proxy.chunks)) / 1024).toFixed(0)} KiB` },
        { name: 'gateway RSS baseline / peak', value: `${mib(median(rounds.map((r) => r.serverRss.baseline)))} / ${mib(Math.max(...rounds.map((r) => Math.max(r.serverRss.peakSampled, r.serverRss.peakHwm ?? 0))))}` },
        { name: 'gateway RSS right after the stream', value: `${mib(median(rounds.map((r) => r.serverRss.end)))} (median)` },
        { name: 'gateway RSS growth while streaming (max)', value: `${mib(Math.max(...growths))} [${growths.map((g) => mib(g)).join(', ')}]`, target: '< 32 MiB', met: Math.max(...growths) < 32 * MiB },
        { name: 'CPU during proxy read (1 core = 100%)', value: cpuText(Object.fromEntries(Object.keys(rounds[0]?.cpuPercent ?? {}).map((k) => [k, median(rounds.map((r) => r.cpuPercent[k] ?? NaN))]))) },
        { name: 'fixture: resumable write of the initrd', value: `${(uploadMs / 1000).toFixed(1)} s` },
      ]),
    );
    out();
    out(
      table('3. Redirect mode: 302 from /asset/{id}/kernel, warm signed-URL cache, 50 concurrent clients', [
        { name: 'p50', value: ms(redirect.p50Ms) },
        { name: 'p99', value: ms(redirect.p99Ms) },
        { name: 'max', value: ms(redirect.maxMs) },
        { name: 'throughput', value: `${redirect.throughputRps.toFixed(0)} req/s (${redirect.requests} req, ${redirect.errors} errors)` },
        { name: 'CPU (1 core = 100%)', value: `${cpuText(redirect.cpuPercent)}; gateway ${ms(cpuPerRequest(redirect))} CPU per request` },
      ]),
    );
    out();
    out(
      table(`4. Upload memory: POST /api/v1/profiles, ${mib(UPLOAD_BODY)} multipart (kernel ${mib(UPLOAD_KERNEL)}), fresh gateway each run`, [
        ...uploads.map((u, i) => ({
          name: `run ${i + 1}`,
          value: `baseline ${mib(u.baseline)}, peak ${mib(u.peak)}, growth ${mib(u.growth)} = ${u.growthPerBodyByte.toFixed(2)} x body, ${ms(u.durationMs)}`,
        })),
        { name: 'growth / body size (median)', value: `${median(uploads.map((u) => u.growthPerBodyByte)).toFixed(2)} x` },
      ]),
    );
    out();
    out(table('Extra', [{ name: 'JS CRC32C (@google-cloud/storage, one core, 64 KiB pieces)', value: `${crcMibPerSec.toFixed(0)} MiB/s (runs: ${crcRuns.map((r) => r.toFixed(0)).join(', ')})` }]));

    const results = {
      meta: { ...meta, emulators: 'embedded (bench/emulators.ts child)', gateway: 'emulators/gateway-process.ts child (startLocalStack, emulators from env)' },
      calibration: { description: 'bare node:http server child, same client and concurrency', ...ceiling },
      bootScriptSingleClient: bootSingle,
      bootScriptLimiterOff: bootNoLimit,
      bootScript: { macsPerRun: macSets.warn.length, requestsPerMac: REQUESTS_PER_MAC, fleetCreateMs: fleetMs, concurrency: LOAD.concurrency, warmupRequests: LOAD.warmupRequests, maxRequests: LOAD.maxRequests, maxMs: LOAD.maxMs, logLevelWarn: bootWarn, logLevelInfo: { ...bootInfo, accessLogLines: logLines, accessLogBytes: logBytes } },
      stream: {
        bytes: STREAM_BYTES,
        pipe: 'the same URL through a bare node:http pipe proxy (bench/echo-server.ts), new connection',
        direct: 'plain HTTP GET of {STORAGE_EMULATOR_HOST}/download/storage/v1/b/{bucket}/o/{name}?alt=media, new connection',
        proxy: 'GET {gateway}/asset/{id}/initrd, new connection',
        rssSampling: 'VmRSS every 20 ms, plus VmHWM after resetting it via /proc/<pid>/clear_refs',
        medianRatio: median(ratios),
        medianProxyFirstByteMs: median(ttfbs),
        maxRssGrowthBytes: Math.max(...growths),
        rounds,
        fixtureWriteMs: uploadMs,
      },
      redirect,
      upload: { bodyBytes: UPLOAD_BODY, kernelBytes: UPLOAD_KERNEL, runs: uploads },
      crc32cJsMibPerSec: crcMibPerSec,
      crc32cJsRunsMibPerSec: crcRuns,
    };
    writeFileSync(resolve(__dirname, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
    out();
    out(`results written to bench/results.json (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
  } finally {
    await stopAllChildren();
    await clients?.close().catch(() => undefined);
    removeTempDirs();
  }
}

const tempDirs: string[] = [];
function removeTempDirs(): void {
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** However it ends, the run ends: children stopped, temporary files gone. */
function abort(reason: string, code: number): void {
  process.stderr.write(`${reason}: stopping children\n`);
  stopAllChildren()
    .catch(() => undefined)
    .finally(() => {
      removeTempDirs();
      process.exit(code);
    });
}

process.on('SIGINT', () => abort('SIGINT', 130));
process.on('SIGTERM', () => abort('SIGTERM', 143));
// Each step is bounded; this is the backstop should one of them hang anyway.
setTimeout(() => abort(`bench still running after ${TOTAL_TIMEOUT_MS / 1000} s`, 1), TOTAL_TIMEOUT_MS).unref();

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    abort('bench failed', 1);
  },
);
