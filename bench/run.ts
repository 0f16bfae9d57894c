// `npm run bench`: boot-path latency, asset streaming, redirects and upload memory against
// the local stack. The emulators and each gateway run in child processes of their own, so
// the gateway's RSS and CPU are measured alone. Prints a table, writes bench/results.json.
import { randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { CRC32C } from '@google-cloud/storage';
import { resetClients } from '../shared/clients';
import { resetConfig } from '../shared/config';
import { blobObjectName } from '../shared/storage/blobs';
import { createMachine, createProfileWithBigInitrd, MiB } from './fixtures';
import { runLoad, type LoadResult } from './load';
import { startChild, stopAllChildren, type Child } from './proc';
import { median, mib, ms, pct, table, type Row } from './report';
import { settle, streamRound, timedGet, type StreamRound } from './stream';
import { uploadRun, type UploadRun } from './upload';

const STREAM_BYTES = 150 * MiB;
const STREAM_ROUNDS = 3;
const UPLOAD_BODY = 30 * MiB;
const UPLOAD_KERNEL = 29 * MiB;
const UPLOAD_RUNS = 3;
const LOAD = { concurrency: 50, warmupRequests: 500, maxRequests: 3000, maxMs: 10_000 };

const out = (line = '') => process.stdout.write(`${line}\n`);
const progress = (line: string) => process.stderr.write(`[bench ${((performance.now() - t0) / 1000).toFixed(1)}s] ${line}\n`);
const t0 = performance.now();

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
  };
}

async function main(): Promise<void> {
  const meta = machineInfo();
  out(`command: ${meta.command}`);
  out(`date:    ${meta.date}`);
  out(`node:    ${meta.node}`);
  out(`cpu:     ${meta.cpuModel}, ${meta.cores} cores, ${meta.memoryGiB} GiB RAM, Linux ${meta.kernel}`);
  out();

  const suffix = randomBytes(4).toString('hex');
  const project = `demo-bench-${suffix}`;
  const bucket = `${project}-blobs`;
  const logDir = mkdtempSync(join(tmpdir(), 'netboot-bench-'));
  Object.assign(process.env, { GOOGLE_CLOUD_PROJECT: project, BLOB_BUCKET: bucket, METADATA_SERVER_DETECTION: 'none' });

  try {
    progress('starting emulators (child process)');
    const emulators = await startChild('emulators.ts', { ...process.env });
    if (!('firestoreHost' in emulators.ready)) throw new Error('emulators child sent no hosts');
    const { firestoreHost, storageHost } = emulators.ready;
    Object.assign(process.env, { FIRESTORE_EMULATOR_HOST: firestoreHost, STORAGE_EMULATOR_HOST: storageHost });
    resetConfig();
    await resetClients();

    const startServer = async (env: Record<string, string>, stdout: number | 'ignore' = 'ignore'): Promise<Child & { url: string }> => {
      const child = await startChild('server.ts', { ...process.env, LOG_LEVEL: 'warn', ASSET_DELIVERY: 'proxy', KERNEL_MAX_BYTES: String(64 * MiB), ...env }, stdout);
      if (!('url' in child.ready)) throw new Error('server child sent no url');
      return { ...child, url: child.ready.url };
    };

    // --- proxy mode, LOG_LEVEL=warn: fixtures, the 150 MiB stream, then boot.ipxe ---
    progress('gateway: ASSET_DELIVERY=proxy LOG_LEVEL=warn');
    const proxyServer = await startServer({});
    const machine = await createMachine(proxyServer.url);
    progress(`writing a ${mib(STREAM_BYTES)} initrd to the Storage emulator (resumable, 8 MiB chunks)`);
    const { profile, initrdSha256, uploadMs } = await createProfileWithBigInitrd(machine.id, STREAM_BYTES);
    const proxyUrl = `${proxyServer.url}/asset/${profile.id}/initrd`;
    const directUrl = `${storageHost}/download/storage/v1/b/${bucket}/o/${encodeURIComponent(blobObjectName(profile.initrd.id))}?alt=media`;

    progress('stream: warm-up and one verified full read through the gateway');
    await timedGet(directUrl, { headers: { range: 'bytes=0-1023' } });
    await timedGet(proxyUrl, { headers: { range: 'bytes=0-1023' } });
    const verify = await timedGet(proxyUrl, { hash: true });
    if (verify.sha256 !== initrdSha256 || verify.bytes !== STREAM_BYTES) throw new Error(`proxied initrd differs: ${verify.bytes} bytes, sha256 ${verify.sha256}`);
    await settle(500);
    const rounds: StreamRound[] = [];
    for (let i = 0; i < STREAM_ROUNDS; i++) {
      progress(`stream round ${i + 1}/${STREAM_ROUNDS}`);
      rounds.push(await streamRound(directUrl, proxyUrl, STREAM_BYTES, proxyServer.pid, emulators.pid));
    }

    const bootUrl = `${proxyServer.url}/boot.ipxe?mac=${encodeURIComponent(machine.mac)}`;
    progress('boot.ipxe, LOG_LEVEL=warn');
    const bootWarn = await runLoad({ url: bootUrl, ...LOAD, expectStatus: 200, watch: { server: proxyServer.pid, emulators: emulators.pid } });
    await proxyServer.stop();

    // --- LOG_LEVEL=info: one JSON access-log line per request, to a file ---
    progress('gateway: LOG_LEVEL=info (access log on); boot.ipxe');
    const logPath = join(logDir, 'server-info.log');
    const logFd = openSync(logPath, 'w');
    const infoServer = await startServer({ LOG_LEVEL: 'info' }, logFd);
    closeSync(logFd);
    const bootInfo = await runLoad({ url: `${infoServer.url}/boot.ipxe?mac=${encodeURIComponent(machine.mac)}`, ...LOAD, expectStatus: 200, watch: { server: infoServer.pid, emulators: emulators.pid } });
    await infoServer.stop();
    const logBytes = statSync(logPath).size;
    const logLines = readFileSync(logPath, 'utf8').split('\n').filter(Boolean).length;

    // --- redirect mode: 302 with a warm signed-URL cache ---
    progress('gateway: ASSET_DELIVERY=redirect; /asset/{id}/kernel');
    const redirectServer = await startServer({ ASSET_DELIVERY: 'redirect' });
    const redirect = await runLoad({ url: `${redirectServer.url}/asset/${profile.id}/kernel`, ...LOAD, expectStatus: 302, watch: { server: redirectServer.pid, emulators: emulators.pid } });
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
    const crcStart = performance.now();
    new CRC32C().update(crcData);
    const crcMibPerSec = 32 / ((performance.now() - crcStart) / 1000);

    progress('stopping emulators');
    await emulators.stop();

    // --- report ---
    const ratios = rounds.map((r) => r.ratio);
    const ttfbs = rounds.map((r) => r.proxy.firstByteMs);
    const growths = rounds.map((r) => r.serverRss.growth);
    const loadRows = (label: string, r: LoadResult, targets: boolean): Row[] => [
      { name: `${label} p50`, value: ms(r.p50Ms), ...(targets ? { target: '< 10 ms', met: r.p50Ms < 10 } : {}) },
      { name: `${label} p99`, value: ms(r.p99Ms), ...(targets ? { target: '< 50 ms', met: r.p99Ms < 50 } : {}) },
      { name: `${label} max`, value: ms(r.maxMs) },
      { name: `${label} throughput`, value: `${r.throughputRps.toFixed(0)} req/s (${r.requests} req, ${(r.durationMs / 1000).toFixed(1)} s, ${r.errors} errors)` },
      { name: `${label} CPU (1 core = 100%)`, value: `client ${pct(r.cpuPercent.client)}, gateway ${pct(r.cpuPercent.server)}, emulators ${pct(r.cpuPercent.emulators)}` },
    ];
    out(
      table('1. GET /boot.ipxe, 50 concurrent keep-alive clients, through the local gateway', [
        ...loadRows('LOG_LEVEL=warn', bootWarn, true),
        ...loadRows('LOG_LEVEL=info', bootInfo, true),
        { name: 'LOG_LEVEL=info access log', value: `${logLines} lines, ${(logBytes / Math.max(1, logLines)).toFixed(0)} bytes/line` },
      ]),
    );
    out();
    out(
      table(`2. Proxy stream of a ${mib(STREAM_BYTES)} initrd (ASSET_DELIVERY=proxy), ${STREAM_ROUNDS} rounds, median [min..max]`, [
        { name: 'direct: plain GET of the emulator media URL', value: `${median(rounds.map((r) => r.direct.mibPerSec)).toFixed(0)} MiB/s, TTFB ${ms(median(rounds.map((r) => r.direct.firstByteMs)))}` },
        { name: 'proxy: GET /asset/{id}/initrd', value: `${median(rounds.map((r) => r.proxy.mibPerSec)).toFixed(0)} MiB/s` },
        { name: 'throughput ratio proxy / direct', value: `${median(ratios).toFixed(2)} [${Math.min(...ratios).toFixed(2)}..${Math.max(...ratios).toFixed(2)}]`, target: '>= 0.9', met: median(ratios) >= 0.9 },
        { name: 'proxy time to first body byte', value: `${ms(median(ttfbs))} [${ms(Math.min(...ttfbs))}..${ms(Math.max(...ttfbs))}]`, target: '< 100 ms', met: median(ttfbs) < 100 },
        { name: 'proxy time to response headers', value: ms(median(rounds.map((r) => r.proxy.headersMs))) },
        { name: 'gateway RSS baseline / peak', value: `${mib(median(rounds.map((r) => r.serverRss.baseline)))} / ${mib(Math.max(...rounds.map((r) => Math.max(r.serverRss.peakSampled, r.serverRss.peakHwm ?? 0))))}` },
        { name: 'gateway RSS growth while streaming (max)', value: `${mib(Math.max(...growths))} [${growths.map((g) => mib(g)).join(', ')}]`, target: '< 32 MiB', met: Math.max(...growths) < 32 * MiB },
        { name: 'CPU during proxy read (1 core = 100%)', value: `client ${pct(median(rounds.map((r) => r.cpuPercent.client ?? NaN)))}, gateway ${pct(median(rounds.map((r) => r.cpuPercent.server ?? NaN)))}, emulators ${pct(median(rounds.map((r) => r.cpuPercent.emulators ?? NaN)))}` },
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
        { name: 'CPU (1 core = 100%)', value: `client ${pct(redirect.cpuPercent.client)}, gateway ${pct(redirect.cpuPercent.server)}, emulators ${pct(redirect.cpuPercent.emulators)}` },
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
    out(table('Extra', [{ name: 'JS CRC32C (@google-cloud/storage, one core)', value: `${crcMibPerSec.toFixed(0)} MiB/s` }]));

    const results = {
      meta: { ...meta, emulators: 'embedded (bench/emulators.ts child)', gateway: 'bench/server.ts child (startLocalStack, emulators from env)' },
      bootScript: { concurrency: LOAD.concurrency, warmupRequests: LOAD.warmupRequests, maxRequests: LOAD.maxRequests, maxMs: LOAD.maxMs, logLevelWarn: bootWarn, logLevelInfo: { ...bootInfo, accessLogLines: logLines, accessLogBytes: logBytes } },
      stream: {
        bytes: STREAM_BYTES,
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
    };
    writeFileSync(resolve(__dirname, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
    out();
    out(`results written to bench/results.json (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
  } finally {
    await stopAllChildren();
    await resetClients().catch(() => undefined);
    rmSync(logDir, { recursive: true, force: true });
  }
}

const onSignal = (signal: NodeJS.Signals) => {
  process.stderr.write(`${signal}: stopping children\n`);
  stopAllChildren().finally(() => process.exit(130));
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    stopAllChildren().finally(() => process.exit(1));
  },
);
