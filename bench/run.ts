// `npm run bench`: boot-path latency, proxy delivery of a large initrd in parts, redirects,
// upload sessions (the netboot CLI) and upload memory against the local stack. The
// emulators, each gateway and the CLI run in child processes of their own, so their RSS and
// CPU are measured alone. Prints a table, writes bench/results.json.
// BENCH_QUICK=1: small files and short load runs, to check that every step works.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { CRC32C } from '@google-cloud/storage';
import { mintLocalToken } from '../emulators/local-issuer';
import { createClients, type Clients } from '../shared/clients';
import { loadConfig } from '../shared/config';
import { blobObjectName } from '../shared/storage/blobs';
import { BOOT_GATEWAY_ENV, bootRequests, compareTelemetry, cpuPerRequestMs, fleetRequests, macsFor, REQUESTS_PER_MAC } from './boot-path';
import { cliStartLines, measureCliStart } from './cli-start';
import { buildForColdStart, coldStartReport, coldStartTable, type ColdStartReport } from './coldstart';
import { createBootFleet, createMachine, createProfileWithBigInitrd, MiB } from './fixtures';
import { runLoad, type LoadResult } from './load';
import { fetchParts, initrdUrls, partsRound, type PartsRound } from './parts';
import { CpuMeter, startChild, stopAllChildren, type Child } from './proc';
import { median, mib, ms, pct, table, type Row } from './report';
import { cliOptions, cliProfileSet, directUpload, freshen, sessionRound, writeRandomFile, type CliRun, type FileSpec, type SessionRound } from './session-upload';
import { DEFAULT_RATES as DEFAULT_SHAPED_RATES, shapedLines, shapedUploads } from './shaped-upload';
import { settle, timedGet } from './stream';
import { compareTls, tlsLines } from './tls';
import { uploadRun, type UploadRun } from './upload';

const QUICK = process.env.BENCH_QUICK === '1';
const STREAM_BYTES = (QUICK ? 24 : 150) * MiB;
const STREAM_ROUNDS = 3;
/** The gateway's default ASSET_PART_BYTES: the script lists the initrd in parts of this size. */
const PART_BYTES = 8 * MiB;
const SESSION_INITRD = (QUICK ? 24 : 150) * MiB;
const SESSION_KERNEL = MiB;
const SESSION_ROUNDS = 3;
const UPLOAD_BODY = 30 * MiB;
const UPLOAD_KERNEL = 29 * MiB;
const UPLOAD_RUNS = 3;
/** Cold starts: spawns of functions-framework per function (median), plus bootScript's first real boot as many times. */
const COLD_START_RUNS = QUICK ? 1 : 5;
const COLD_START_BUDGET_MS = (QUICK ? 2 : 5) * 60_000;
/** Upload sessions over a shaped link (bench/shaped-upload.ts): rates, rounds each (direct and session in turn), its time. */
const SHAPED_RATES = DEFAULT_SHAPED_RATES;
const SHAPED_ROUNDS = QUICK ? 1 : 2;
const SHAPED_BUDGET_MS = 3 * 60_000;
const TOTAL_TIMEOUT_MS = 9 * 60_000 + COLD_START_BUDGET_MS + SHAPED_BUDGET_MS;
/**
 * Boot script runs use MACs of their own, each asked at most REQUESTS_PER_MAC times (in
 * turn): under RATE_LIMIT_BOOT_PER_MAC (default 10 a minute), so nothing is refused and the
 * limiter does the same work per request as in production. A run's request count is
 * therefore bounded by its MACs as well as by maxRequests and maxMs.
 */
const MACS_PER_RUN = 250;
/** Telemetry off / on comparison: this many rounds of one run each way. */
const TELEMETRY_ROUNDS = QUICK ? 1 : 2;
/** Rounds of plain HTTP and HTTPS gateways side by side (bench/tls.ts). */
const TLS_ROUNDS = QUICK ? 1 : 2;
const LOAD = { concurrency: 50, warmupRequests: 200, maxRequests: Math.min(3000, MACS_PER_RUN * REQUESTS_PER_MAC - 200), maxMs: QUICK ? 2_000 : 10_000 };
const SINGLE = { concurrency: 1, warmupRequests: 20, maxRequests: 300, maxMs: QUICK ? 1_000 : 3_000 };

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
    command: QUICK ? 'BENCH_QUICK=1 npm run bench (reduced sizes: not for quoting)' : 'npm run bench',
    date: new Date().toISOString(),
    node: process.version,
    cpuModel: model,
    cores: cpus().length,
    memoryGiB: Math.round((memKb / 1024 / 1024) * 10) / 10,
    kernel: readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim(),
    /** Other work on the machine skews every number below: shown so that a busy run is recognisable. */
    loadAverageAtStart: readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' '),
    /** BENCH_CODE_VERSION: set when the bench runs in an exported copy of a commit (no .git there). */
    code: process.env.BENCH_CODE_VERSION ?? codeVersion(),
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
      const child = await startChild('../emulators/gateway-process.ts', { ...process.env, LOG_LEVEL: 'warn', ASSET_DELIVERY: 'proxy', KERNEL_MAX_BYTES: String(64 * MiB), ...BOOT_GATEWAY_ENV, ...env }, stdout);
      if (!('url' in child.ready)) throw new Error('server child sent no url');
      return { ...child, url: child.ready.url };
    };

    // --- proxy mode, LOG_LEVEL=warn: fixtures, the initrd in parts, then boot.ipxe ---
    // (Until the response caps, this step read the whole initrd as one proxied response;
    // the capped gateway now answers that with a 302 to Storage, and the script lists parts.)
    progress('gateway: ASSET_DELIVERY=proxy LOG_LEVEL=warn');
    const proxyServer = await startServer({});
    const machine = await createMachine(proxyServer.url);
    progress(`writing a ${mib(STREAM_BYTES)} initrd to the Storage emulator (resumable session, one streamed PUT)`);
    const { profile, initrdSha256, uploadMs } = await createProfileWithBigInitrd(clients, machine.id, STREAM_BYTES);
    const wholeUrl = `${proxyServer.url}/asset/${profile.id}/initrd?v=${profile.initrd.id}`;
    const directUrl = `${storageHost}/download/storage/v1/b/${bucket}/o/${encodeURIComponent(blobObjectName(profile.initrd.id))}?alt=media`;
    const pipeUrl = `${echoUrl}/pipe?u=${encodeURIComponent(directUrl)}`;

    progress('parts: the boot script, one verified read of every part, the whole asset refused');
    const scriptRes = await fetch(`${proxyServer.url}/boot.ipxe?mac=${encodeURIComponent(machine.mac)}`);
    const script = await scriptRes.text();
    if (scriptRes.status !== 200) throw new Error(`GET /boot.ipxe: ${scriptRes.status} ${script.slice(0, 300)}`);
    const partUrls = initrdUrls(script, proxyServer.url);
    if (partUrls.length !== Math.ceil(STREAM_BYTES / PART_BYTES)) throw new Error(`the script lists ${partUrls.length} initrd URLs for a ${STREAM_BYTES}-byte initrd:\n${script}`);
    await timedGet(directUrl, { headers: { range: 'bytes=0-1023' } });
    const verify = await fetchParts(partUrls, { hash: true });
    if (verify.sha256 !== initrdSha256 || verify.bytes !== STREAM_BYTES) throw new Error(`initrd parts differ: ${verify.bytes} bytes, sha256 ${verify.sha256}`);
    const whole = await fetch(wholeUrl, { redirect: 'manual' });
    await whole.arrayBuffer();
    await settle(500);
    const rounds: PartsRound[] = [];
    for (let i = 0; i < STREAM_ROUNDS; i++) {
      progress(`parts round ${i + 1}/${STREAM_ROUNDS}: direct, bare pipe, ${partUrls.length} parts through the gateway`);
      rounds.push(await partsRound(directUrl, pipeUrl, partUrls, STREAM_BYTES, proxyServer.pid, emulators.pid, echo.pid));
    }
    await echo.stop();

    // One MAC per request slot: each run has MACs of its own, at most REQUESTS_PER_MAC requests each.
    const fleetSize = (2 + 2 * TELEMETRY_ROUNDS + 2 * TLS_ROUNDS) * macsFor(LOAD) + macsFor(SINGLE);
    progress(`boot fleet: ${fleetSize} machines with profiles (repository layer)`);
    const fleetStart = performance.now();
    const fleet = await createBootFleet(clients, fleetSize, { kernel: profile.kernel, initrd: profile.initrd });
    const fleetMs = performance.now() - fleetStart;
    const macSets = {
      warn: fleet.slice(0, macsFor(LOAD)),
      info: fleet.slice(macsFor(LOAD), 2 * macsFor(LOAD)),
      otel: fleet.slice(2 * macsFor(LOAD), (2 + 2 * TELEMETRY_ROUNDS) * macsFor(LOAD)),
      single: fleet.slice((2 + 2 * TELEMETRY_ROUNDS) * macsFor(LOAD), (2 + 2 * TELEMETRY_ROUNDS) * macsFor(LOAD) + macsFor(SINGLE)),
      tls: fleet.slice((2 + 2 * TELEMETRY_ROUNDS) * macsFor(LOAD) + macsFor(SINGLE)),
    };

    progress('boot.ipxe, LOG_LEVEL=warn');
    const bootWarn = await runLoad({ ...bootRequests(proxyServer.url, macSets.warn), ...LOAD, expectStatus: 200, watch: { server: proxyServer.pid, emulators: emulators.pid } });
    progress('boot.ipxe, LOG_LEVEL=warn, one client (service time without queueing)');
    const bootSingle = await runLoad({ ...bootRequests(proxyServer.url, macSets.single), ...SINGLE, expectStatus: 200, watch: { server: proxyServer.pid, emulators: emulators.pid } });
    // The boot path's yardstick (issue 15): the cheapest function on the same gateway, same clients, same run.
    progress('health/liveness on the same gateway, 50 clients');
    const liveness = await runLoad({ urls: [`${proxyServer.url}/health/liveness`], ...LOAD, maxRequests: 20_000, expectStatus: 200, watch: { server: proxyServer.pid, emulators: emulators.pid } });
    await proxyServer.stop();

    // --- LOG_LEVEL=info: one JSON access-log line per request, to a file ---
    progress('gateway: LOG_LEVEL=info (access log on); boot.ipxe');
    const logPath = join(logDir, 'server-info.log');
    const logFd = openSync(logPath, 'w');
    const infoServer = await startServer({ LOG_LEVEL: 'info' }, logFd);
    closeSync(logFd);
    const bootInfo = await runLoad({ ...bootRequests(infoServer.url, macSets.info), ...LOAD, expectStatus: 200, watch: { server: infoServer.pid, emulators: emulators.pid } });
    await infoServer.stop();
    const logBytes = statSync(logPath).size;
    const logLines = readFileSync(logPath, 'utf8').split('\n').filter((line) => line.startsWith('{')).length;

    // --- telemetry off and on side by side: fresh gateways, order swapped each round (OTLP/HTTP protobuf to a sink) ---
    progress(`telemetry off / on, ${TELEMETRY_ROUNDS} rounds of two fresh gateways; boot.ipxe`);
    const telemetry = await compareTelemetry({ macs: macSets.otel, rounds: TELEMETRY_ROUNDS, load: LOAD, emulatorsPid: emulators.pid });

    // --- HTTPS against plain HTTP side by side: fresh gateways, order swapped each round ---
    progress(`HTTPS / HTTP, ${TLS_ROUNDS} rounds of two fresh gateways; boot.ipxe and the ${mib(STREAM_BYTES)} initrd in proxy mode`);
    const tlsSideBySide = await compareTls({ macs: macSets.tls, initrdMac: machine.mac, initrdBytes: STREAM_BYTES, rounds: TLS_ROUNDS, load: LOAD, emulatorsPid: emulators.pid });

    // --- the same with the per-MAC limiter off: what counting each request costs ---
    progress('gateway: RATE_LIMIT_BOOT_PER_MAC=0 (limiter off); boot.ipxe');
    const noLimitServer = await startServer({ RATE_LIMIT_BOOT_PER_MAC: '0' });
    const bootNoLimit = await runLoad({ ...bootRequests(noLimitServer.url, macSets.warn), ...LOAD, expectStatus: 200, watch: { server: noLimitServer.pid, emulators: emulators.pid } });
    await noLimitServer.stop();

    // --- redirect mode: 302 with a warm signed-URL cache ---
    progress('gateway: ASSET_DELIVERY=redirect; /asset/{id}/kernel');
    const redirectServer = await startServer({ ASSET_DELIVERY: 'redirect' });
    // No per-MAC budget here: the full 3000 requests (or 10 s), from 500 machines' addresses (6
    // each): from one address the per-address boot limit (600 a minute) refused most of them.
    const redirect = await runLoad({ ...fleetRequests(`${redirectServer.url}/asset/${profile.id}/kernel`, 500), ...LOAD, maxRequests: 3000, expectStatus: 302, watch: { server: redirectServer.pid, emulators: emulators.pid } });
    await redirectServer.stop();

    // --- upload sessions: the netboot CLI (child) against a direct resumable upload, in turn ---
    progress(`gateway for upload sessions; files: kernel ${mib(SESSION_KERNEL)}, initrd ${mib(SESSION_INITRD)}`);
    const sessionServer = await startServer({});
    const sessionDir = mkdtempSync(join(tmpdir(), 'netboot-bench-upload-'));
    tempDirs.push(sessionDir);
    const sessionFiles = [writeRandomFile(join(sessionDir, 'vmlinuz'), SESSION_KERNEL), writeRandomFile(join(sessionDir, 'initrd.img'), SESSION_INITRD)];
    const smallFiles = [writeRandomFile(join(sessionDir, 'vmlinuz-small'), 256 * 1024), writeRandomFile(join(sessionDir, 'initrd-small.img'), MiB)];
    const sessionBytes = SESSION_KERNEL + SESSION_INITRD;
    const cliAt = { url: sessionServer.url, stateDir: join(sessionDir, 'state'), gatewayPid: sessionServer.pid, emulatorsPid: emulators.pid };
    const cliOpts = (files: readonly FileSpec[]) => cliOptions(cliAt, files);
    const checkCli = (run: CliRun, files: readonly FileSpec[]) => {
      const initrdSent = run.stats?.files.initrd?.sent;
      if (run.exitCode !== 0 || run.profile?.initrd?.size !== files[1]?.size || initrdSent !== files[1]?.size) {
        throw new Error(`netboot profile set: exit ${run.exitCode}, initrd sent ${initrdSent}; stderr:\n${run.stderrTail.join('\n')}`);
      }
    };
    progress('upload sessions: warm-up (small files, CLI and direct)');
    checkCli(await cliProfileSet(await cliOpts(smallFiles)), smallFiles);
    await directUpload(clients.bucket, smallFiles, 'whole');
    const sessionRounds: SessionRound[] = [];
    for (let i = 0; i < SESSION_ROUNDS; i++) {
      await freshen(sessionFiles);
      const opts = await cliOpts(sessionFiles);
      progress(`upload session round ${i + 1}/${SESSION_ROUNDS}: direct PUT, the two hashes alone, netboot profile set, direct 8 MiB chunks`);
      sessionRounds.push(await sessionRound(clients.bucket, sessionFiles, opts, (run) => checkCli(run, sessionFiles)));
    }
    await sessionServer.stop();

    // --- the same over a link shaped to 1 Gbit/s and 100 Mbit/s: clients in a namespace, a stack of its own (issue 24) ---
    progress(`upload sessions over a shaped link (${SHAPED_RATES.join(', ')}): namespace, veth, tbf; ${SHAPED_ROUNDS} round(s) each`);
    // A link that cannot be made (no netns or tbf in this kernel) is reported in its section, not fatal to the other steps.
    const shaped = await shapedUploads({ rates: SHAPED_RATES, rounds: SHAPED_ROUNDS, ...(QUICK ? { initrdMib: 8 } : {}), log: progress }).catch((err: unknown) => ({ skipped: `failed: ${err instanceof Error ? err.message : String(err)}` }));

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

    // --- the CLI's start-up (issue 23): `netboot machine list` process start to exit, beside `node -e 0` ---
    progress('CLI start-up: netboot machine list (bundle, tsx, npx) beside node -e 0, interleaved');
    const cliServer = await startServer({});
    await createMachine(cliServer.url);
    const cliStart = await measureCliStart(cliServer.url, mintLocalToken(), QUICK ? 3 : 11);
    await cliServer.stop();

    // --- cold starts: every function on the built code; bootScript also to its first real boot ---
    progress(`cold starts: build, then ${COLD_START_RUNS} spawn(s) of functions-framework per function, and bootScript's first real boot`);
    let coldStart: ColdStartReport | { error: string };
    try {
      const builtDir = buildForColdStart();
      tempDirs.push(builtDir);
      const fleetClients = clients;
      coldStart = await coldStartReport(builtDir, COLD_START_RUNS, { ...process.env }, (count) => createBootFleet(fleetClients, count, { kernel: profile.kernel, initrd: profile.initrd }));
    } catch (err) {
      // Reported and failing the run at the end, after the other steps' results are written.
      coldStart = { error: err instanceof Error ? (err.stack ?? err.message) : String(err) };
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
    const ratios = rounds.map((r) => r.ratioToDirect);
    const ttfbs = rounds.map((r) => r.parts.firstByteMs);
    const growths = rounds.map((r) => r.serverRss.growth);
    const cpuText = (c: Record<string, number>) =>
      [`client ${pct(c.client)}`, ...Object.entries(c).filter(([k]) => k !== 'client' && k !== 'other').map(([k, v]) => `${k === 'server' ? 'gateway' : k} ${pct(v)}`), `not ours ${pct(c.other)}`].join(', ');
    const cpuPerRequest = cpuPerRequestMs;
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
        { name: 'GET /health/liveness, same gateway and clients', value: `${liveness.throughputRps.toFixed(0)} req/s, p50 ${ms(liveness.p50Ms)}, p99 ${ms(liveness.p99Ms)}; gateway ${ms(cpuPerRequest(liveness))} CPU per request` },
        { name: 'boot script throughput / liveness', value: (bootWarn.throughputRps / liveness.throughputRps).toFixed(3), target: '>= 0.2', met: bootWarn.throughputRps / liveness.throughputRps >= 0.2 },
        { name: 'boot script p99 (boot path budget)', value: ms(bootWarn.p99Ms), target: '< 250 ms', met: bootWarn.p99Ms < 250 },
        { name: 'boot script gateway CPU per request', value: ms(cpuPerRequest(bootWarn)), target: '<= 1.5 ms', met: cpuPerRequest(bootWarn) <= 1.5 },
        { name: 'LOG_LEVEL=warn, 1 client', value: `p50 ${ms(bootSingle.p50Ms)}, p99 ${ms(bootSingle.p99Ms)}, ${bootSingle.throughputRps.toFixed(0)} req/s; ${cpuText(bootSingle.cpuPercent)}; gateway ${ms(cpuPerRequest(bootSingle))} CPU per request` },
        ...loadRows('LOG_LEVEL=info', bootInfo, true),
        ...loadRows('LOG_LEVEL=warn, per-MAC limiter off', bootNoLimit, false),
        {
          name: `telemetry on / off: gateway CPU per boot script, medians of ${TELEMETRY_ROUNDS} runs each (fresh gateways, order swapped each round)`,
          value: `${ms(telemetry.onCpuMs)} / ${ms(telemetry.offCpuMs)} = ${telemetry.ratio.toFixed(2)} (runs: ${telemetry.runs.map((r) => `${r.mode} ${r.cpuMs.toFixed(2)}`).join(', ')})`,
          target: '<= 1.10',
          met: telemetry.ratio <= 1.1,
        },
        { name: 'telemetry on: OTLP exports the sink received', value: `${telemetry.exports.traces} trace batches, ${telemetry.exports.metrics} metric batches` },
        { name: 'fixture: boot fleet (machines + profiles)', value: `${fleet.length} in ${(fleetMs / 1000).toFixed(1)} s` },
        { name: 'LOG_LEVEL=info access log', value: `${logLines} lines, ${(logBytes / Math.max(1, logLines)).toFixed(0)} bytes/line` },
      ]),
    );
    out();
    const partsCount = partUrls.length;
    out(
      table(`2. Proxy delivery of a ${mib(STREAM_BYTES)} initrd in ${partsCount} parts of ${mib(PART_BYTES)} (ASSET_DELIVERY=proxy, capped gateway), the script's part URLs in turn on one keep-alive connection, ${STREAM_ROUNDS} rounds, median [min..max]`, [
        { name: 'direct: plain GET of the emulator media URL (whole object)', value: `${median(rounds.map((r) => r.direct.mibPerSec)).toFixed(0)} MiB/s, TTFB ${ms(median(rounds.map((r) => r.direct.firstByteMs)))}` },
        { name: 'bare node:http pipe proxy, whole object (yardstick)', value: `${median(rounds.map((r) => r.pipe.mibPerSec)).toFixed(0)} MiB/s = ${median(rounds.map((r) => r.pipeRatio)).toFixed(2)} x direct` },
        { name: 'parts through the gateway', value: `${median(rounds.map((r) => r.parts.mibPerSec)).toFixed(0)} MiB/s, ${rounds[0]?.parts.connections ?? NaN} connection(s), slowest part ${ms(median(rounds.map((r) => r.parts.slowestPartMs)))}` },
        { name: 'throughput ratio parts / bare pipe', value: `${median(rounds.map((r) => r.ratioToPipe)).toFixed(2)} [${Math.min(...rounds.map((r) => r.ratioToPipe)).toFixed(2)}..${Math.max(...rounds.map((r) => r.ratioToPipe)).toFixed(2)}]` },
        { name: 'throughput ratio parts / direct', value: `${median(ratios).toFixed(2)} [${Math.min(...ratios).toFixed(2)}..${Math.max(...ratios).toFixed(2)}]`, target: '>= 0.9 (the stream\'s)', met: median(ratios) >= 0.9 },
        { name: 'time to first body byte of part 0', value: `${ms(median(ttfbs))} [${ms(Math.min(...ttfbs))}..${ms(Math.max(...ttfbs))}] (direct ${ms(median(rounds.map((r) => r.direct.firstByteMs)))})`, target: '< 100 ms', met: median(ttfbs) < 100 },
        { name: 'CPU per MiB moved: bare pipe / gateway', value: `${ms(median(rounds.map((r) => r.cpuMsPerMib.barePipe)))} / ${ms(median(rounds.map((r) => r.cpuMsPerMib.gateway)))}` },
        { name: 'gateway RSS baseline / peak', value: `${mib(median(rounds.map((r) => r.serverRss.baseline)))} / ${mib(Math.max(...rounds.map((r) => Math.max(r.serverRss.peakSampled, r.serverRss.peakHwm ?? 0))))}` },
        { name: 'gateway RSS growth while serving the parts (max)', value: `${mib(Math.max(...growths))} [${growths.map((g) => mib(g)).join(', ')}]`, target: '< 32 MiB', met: Math.max(...growths) < 32 * MiB },
        { name: 'CPU during the parts (1 core = 100%)', value: cpuText(Object.fromEntries(Object.keys(rounds[0]?.cpuPercent ?? {}).map((k) => [k, median(rounds.map((r) => r.cpuPercent[k] ?? NaN))]))) },
        { name: 'the whole initrd in one proxied GET (the old measurement)', value: whole.status === 302 ? '302 to Storage: over RESPONSE_MAX_BYTES (32,000,000), so not measured' : `${whole.status} (under RESPONSE_MAX_BYTES at this size)` },
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
    const sr = sessionRounds;
    const spread = (xs: number[]) => `${median(xs).toFixed(2)} [${Math.min(...xs).toFixed(2)}..${Math.max(...xs).toFixed(2)}]`;
    const sessionRatios = sr.map((r) => r.ratio);
    const phase = (f: (c: CliRun) => number) => ms(median(sr.map((r) => f(r.cli))));
    const cliGrowths = sr.map((r) => r.cli.cliRss.growth);
    const gwGrowths = sr.map((r) => r.cli.gatewayRss.growth);
    const rate = (msValue: number) => `${(sessionBytes / MiB / (msValue / 1000)).toFixed(0)} MiB/s`;
    out(
      table(`5. Upload session: netboot profile set (child process) of a ${mib(SESSION_INITRD)} initrd + ${mib(SESSION_KERNEL)} kernel, against a direct resumable upload of the same files, ${SESSION_ROUNDS} rounds in turn, median [min..max]`, [
        { name: 'direct: resumable session, one streamed PUT per file', value: `${ms(median(sr.map((r) => r.directWhole.ms)))} (${rate(median(sr.map((r) => r.directWhole.ms)))})` },
        { name: '... the emulator\'s CPU during the direct PUT (one thread: 100% = saturated)', value: `${(median(sr.map((r) => r.directEmulatorBusy)) * 100).toFixed(0)}%` },
        { name: 'direct: resumable session, 8 MiB chunks (cli/resumable.ts with --chunk-size 8 MiB)', value: `${ms(median(sr.map((r) => r.directChunks.ms)))} (${rate(median(sr.map((r) => r.directChunks.ms)))})` },
        { name: 'netboot profile set, go -> done', value: `${ms(median(sr.map((r) => r.cli.ms)))} (${rate(median(sr.map((r) => r.cli.ms)))})` },
        { name: '... preflight (machine and profile GETs; a hash first only for files the CLI knows or with --transfer resumable)', value: phase((c) => c.phases.hashedMs) },
        { name: '... decide mode + open the session', value: phase((c) => c.phases.sessionOpenedMs - c.phases.hashedMs) },
        { name: '... send (the parts, two at a time, to their session URIs; the service hashing them as they land)', value: phase((c) => c.phases.sentMs - c.phases.sessionOpenedMs) },
        { name: '... finalize (the last parts hashed, compose, commit)', value: phase((c) => c.phases.finalizedMs - c.phases.sentMs) },
        { name: 'CLI process start-up (node + tsx + modules; not in the ratio)', value: ms(median(sr.map((r) => r.cli.startupMs))) },
        { name: 'the resumable transfer\'s two hashes, alone: local SHA-256 of the files (cli/hash.ts) + SHA-256 of the stored objects (finalize\'s digest; emulator CPU serving it)', value: `${ms(median(sr.map((r) => r.hashes.localHashMs)))} + ${ms(median(sr.map((r) => r.hashes.rereadMs)))} (${ms(median(sr.map((r) => r.hashes.rereadEmulatorCpuMs)))})` },
        { name: 'the resumable transfer\'s best ratio: direct / (direct + local hash + stored-bytes hash), steps in turn', value: spread(sr.map((r) => r.bounds.sequential)) },
        { name: '... even with the stored bytes hashed during the upload: direct / (direct + local hash + the emulator\'s CPU for the re-read)', value: spread(sr.map((r) => r.bounds.overlapped)) },
        { name: 'throughput ratio session / direct PUT', value: `${median(sessionRatios).toFixed(2)} [${Math.min(...sessionRatios).toFixed(2)}..${Math.max(...sessionRatios).toFixed(2)}]`, target: '>= 0.8', met: median(sessionRatios) >= 0.8 },
        { name: 'CLI RSS growth (max; baseline after start-up)', value: `${mib(Math.max(...cliGrowths))} [${cliGrowths.map((g) => mib(g)).join(', ')}], baseline ${mib(median(sr.map((r) => r.cli.cliRss.baseline)))}`, target: '< 64 MiB', met: Math.max(...cliGrowths) < 64 * MiB },
        { name: 'gateway RSS growth (max)', value: `${mib(Math.max(...gwGrowths))} [${gwGrowths.map((g) => mib(g)).join(', ')}], baseline ${mib(median(sr.map((r) => r.cli.gatewayRss.baseline)))}`, target: '< 64 MiB', met: Math.max(...gwGrowths) < 64 * MiB },
        { name: 'CPU during the CLI run (1 core = 100%)', value: cpuText(Object.fromEntries(Object.keys(sr[0]?.cli.cpuPercent ?? {}).map((k) => [k, median(sr.map((r) => r.cli.cpuPercent[k] ?? NaN))]))) },
      ]),
    );
    out();
    out('error' in coldStart ? `6. Cold start per function: NOT MEASURED: ${coldStart.error}` : coldStartTable('6', coldStart));
    out();
    out('7. HTTPS (issue 20)');
    out(tlsLines(tlsSideBySide, STREAM_BYTES / MiB).join('\n'));
    out();
    out('8. CLI start-up: netboot machine list against a fresh gateway, process start to exit (issue 23)');
    out(cliStartLines(cliStart).join('\n'));
    out();
    out('9. Upload sessions over a shaped link: netboot profile set / direct resumable upload, clients in a network namespace (bench/shaped-upload.ts; issue 24)');
    out(shapedLines(shaped).join('\n'));
    out();
    out(table('Extra', [{ name: 'JS CRC32C (@google-cloud/storage, one core, 64 KiB pieces)', value: `${crcMibPerSec.toFixed(0)} MiB/s (runs: ${crcRuns.map((r) => r.toFixed(0)).join(', ')})` }]));

    const results = {
      meta: { ...meta, emulators: 'embedded (bench/emulators.ts child)', gateway: 'emulators/gateway-process.ts child (startLocalStack, emulators from env)' },
      calibration: { description: 'bare node:http server child, same client and concurrency', ...ceiling },
      bootScriptSingleClient: bootSingle,
      livenessSameGateway: liveness,
      bootScriptLimiterOff: bootNoLimit,
      tlsSideBySide: { ...tlsSideBySide, method: 'boot-script load and the initrd in parts (proxy mode) on fresh gateways, plain HTTP and HTTPS (npm start -- --tls, ECDSA P-256 leaf) in turn, order swapped each round' },
      telemetryOnOff: { ...telemetry, method: 'boot-script load on fresh gateways, telemetry off and on in turn, order swapped each round; OTLP/HTTP protobuf to a sink in the bench process' },
      bootScript: { macsPerRun: macSets.warn.length, requestsPerMac: REQUESTS_PER_MAC, fleetCreateMs: fleetMs, concurrency: LOAD.concurrency, warmupRequests: LOAD.warmupRequests, maxRequests: LOAD.maxRequests, maxMs: LOAD.maxMs, logLevelWarn: bootWarn, logLevelInfo: { ...bootInfo, accessLogLines: logLines, accessLogBytes: logBytes } },
      partsDelivery: {
        bytes: STREAM_BYTES,
        partBytes: PART_BYTES,
        parts: partUrls.length,
        pipe: 'the whole object through a bare node:http pipe proxy (bench/echo-server.ts), new connection',
        direct: 'plain HTTP GET of {STORAGE_EMULATOR_HOST}/download/storage/v1/b/{bucket}/o/{name}?alt=media, new connection',
        gateway: "the boot script's initrd URLs (/asset/{id}/initrd?v=..&part=n) in turn, one keep-alive connection",
        wholeAssetStatus: whole.status,
        rssSampling: 'VmRSS every 20 ms, plus VmHWM after resetting it via /proc/<pid>/clear_refs',
        medianRatioToPipe: median(rounds.map((r) => r.ratioToPipe)),
        medianRatioToDirect: median(ratios),
        medianFirstByteMs: median(ttfbs),
        maxRssGrowthBytes: Math.max(...growths),
        rounds,
        fixtureWriteMs: uploadMs,
      },
      uploadSession: {
        initrdBytes: SESSION_INITRD,
        kernelBytes: SESSION_KERNEL,
        cli: 'netboot profile set (cli/main.ts in a child process, loaded before go): hash, POST /api/v1/uploads, one streamed PUT per file to the session URIs, finalize',
        direct: 'per file: createResumableUpload (@google-cloud/storage), then one streamed PUT (directWhole) or cli/resumable.ts in 8 MiB chunks (directChunks), from the bench process',
        medianRatio: median(sessionRatios),
        bounds: 'the best session ratio with a send no slower than the direct PUT and requests that cost nothing: sequential = direct / (direct + localHashMs + rereadMs), overlapped = direct / (direct + localHashMs + rereadEmulatorCpuMs); localHashMs = cli/hash.ts over both files, rereadMs = shared/uploads/digest.ts over the direct objects from the bench process',
        medianSequentialBound: median(sessionRounds.map((r) => r.bounds.sequential)),
        medianOverlappedBound: median(sessionRounds.map((r) => r.bounds.overlapped)),
        maxCliRssGrowthBytes: Math.max(...cliGrowths),
        maxGatewayRssGrowthBytes: Math.max(...gwGrowths),
        rounds: sessionRounds,
      },
      redirect,
      upload: { bodyBytes: UPLOAD_BODY, kernelBytes: UPLOAD_KERNEL, runs: uploads },
      crc32cJsMibPerSec: crcMibPerSec,
      crc32cJsRunsMibPerSec: crcRuns,
      cliStart,
      shapedUpload: shaped,
      coldStart: { command: 'bench/coldstart.ts on scripts/build.ts output: functions-framework --target=<fn> --source=<built>/functions/index.js', ...coldStart },
    };
    writeFileSync(resolve(__dirname, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
    out();
    out(`results written to bench/results.json (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
    if ('error' in coldStart) throw new Error(`cold starts not measured: ${coldStart.error}`);
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
