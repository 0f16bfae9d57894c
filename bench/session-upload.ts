// Issue 9, upload side: a large initrd through an upload session with the real client (the
// netboot CLI in a child process: hash locally, POST /api/v1/uploads, one streamed PUT per
// file to the session URIs, finalize with the server's re-hash), against a plain resumable
// upload of the same bytes straight to the Storage emulator.
import { randomBytes } from 'node:crypto';
import { closeSync, createReadStream, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Bucket } from '@google-cloud/storage';
import { hashFile } from '../cli/hash';
import { uploadResumable } from '../cli/resumable';
import { createClients } from '../shared/clients';
import { loadConfig } from '../shared/config';
import { GcsMediaReader } from '../shared/storage/gcs-media';
import { digestWhole } from '../shared/uploads/digest';
import { adminAuthorization, createMachine, MiB } from './fixtures';
import { CpuMeter, cpuMsOf, RssSampler, startChild, stopAllChildren } from './proc';
import { median, ms } from './report';
import { settle } from './stream';

export interface FileSpec {
  path: string;
  size: number;
}

/** A file of `size` random bytes, written 8 MiB at a time. */
export function writeRandomFile(path: string, size: number): FileSpec {
  const fd = openSync(path, 'w');
  for (let offset = 0; offset < size; offset += 8 * MiB) writeSync(fd, randomBytes(Math.min(8 * MiB, size - offset)));
  closeSync(fd);
  return { path, size };
}

/** The options of one `netboot profile set` run (cliProfileSet): a new machine on the gateway at `url`, the files' paths (kernel, initrd). */
export async function cliOptions(at: { url: string; stateDir: string; gatewayPid: number; emulatorsPid: number }, files: readonly FileSpec[]): Promise<Parameters<typeof cliProfileSet>[0]> {
  return {
    ...at,
    token: adminAuthorization().replace(/^Bearer /, ''),
    machineId: (await createMachine(at.url)).id,
    kernel: files[0]?.path ?? '',
    initrd: files[1]?.path ?? '',
  };
}

/** Rewrites the first 64 bytes of each file, so that no run can reuse a blob an earlier run uploaded. */
export async function freshen(files: readonly FileSpec[]): Promise<void> {
  for (const f of files) {
    const fh = await open(f.path, 'r+');
    try {
      await fh.write(randomBytes(64), 0, 64, 0);
    } finally {
      await fh.close();
    }
  }
}

function putWhole(uri: string, path: string, size: number): Promise<number> {
  return new Promise((resolve, reject) => {
    // No Content-Type: the emulator's body-parser cap (130 MB) applies only to requests with one.
    const req = http.request(uri, { method: 'PUT', agent: false, headers: { 'content-length': String(size) } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', reject);
    });
    req.on('error', reject);
    createReadStream(path, { highWaterMark: 256 * 1024 }).on('error', reject).pipe(req);
  });
}

export interface DirectUpload {
  /** Session start plus the PUTs, all files in turn. */
  ms: number;
  objects: string[];
}

/**
 * The yardstick: each file to a new object through a resumable session that
 * @google-cloud/storage starts (as the service does), then either one streamed PUT of the
 * whole file (`whole`, what `curl --upload-file` does) or the CLI's upload engine in 8 MiB
 * chunks (`chunks`: cli/resumable.ts with chunkSize 8 MiB, its default before it sent one
 * request per file; no hashing, no service).
 */
export async function directUpload(bucket: Bucket, files: readonly FileSpec[], how: 'whole' | 'chunks'): Promise<DirectUpload> {
  const objects: string[] = [];
  const started = performance.now();
  for (const f of files) {
    const name = `bench-direct/${randomBytes(8).toString('hex')}`;
    const [uri] = await bucket.file(name).createResumableUpload({ metadata: { contentType: 'application/octet-stream' } });
    if (how === 'whole') {
      const status = await putWhole(uri, f.path, f.size);
      if (status !== 200 && status !== 201) throw new Error(`direct PUT of ${f.path}: status ${status}`);
    } else {
      await uploadResumable({ uri, path: f.path, total: f.size, chunkSize: 8 * 1024 * 1024 });
    }
    objects.push(name);
  }
  const ms = performance.now() - started;
  for (const name of objects) {
    const [meta] = await bucket.file(name).getMetadata();
    const want = files[objects.indexOf(name)]?.size;
    if (Number(meta.size) !== want) throw new Error(`direct upload of ${name}: ${meta.size} bytes stored, ${want} sent`);
  }
  return { ms, objects };
}

export interface MandatoryHashes {
  /** The CLI's own hashing (cli/hash.ts) of every file, in turn. */
  localHashMs: number;
  /** Finalize's digest (shared/uploads/digest.ts) of every stored object, in turn, from this process. */
  rereadMs: number;
  /** The emulator's CPU while it served those reads: work its one thread cannot do while it takes an upload. */
  rereadEmulatorCpuMs: number;
}

/**
 * The two hashes issue 9 requires of any session upload, timed alone: the client's SHA-256 of
 * each file before it can declare it, and the service's SHA-256 of the stored bytes before it
 * may commit. With the send no slower than a direct PUT and the session's requests free:
 * - `direct / (direct + localHashMs + rereadMs)` is the most a session can reach while the
 *   steps run one after the other;
 * - `direct / (direct + localHashMs + rereadEmulatorCpuMs)` the most even if the stored bytes
 *   were hashed while later ones upload: the declaration needs the local hash first, and the
 *   emulator (one thread, busy for the whole of a direct upload) must serve the re-read too.
 */
export async function mandatoryHashes(bucket: Bucket, files: readonly FileSpec[], objects: readonly string[], emulatorPid: number): Promise<MandatoryHashes> {
  let started = performance.now();
  for (const f of files) await hashFile(f.path);
  const localHashMs = performance.now() - started;
  const emulatorBefore = cpuMsOf(emulatorPid);
  started = performance.now();
  const media = new GcsMediaReader(bucket); // finalize's own read (BlobStore.readWhole)
  for (const name of objects) await digestWhole((onPiece) => media.readWhole(name, onPiece));
  await media.close();
  return { localHashMs, rereadMs: performance.now() - started, rereadEmulatorCpuMs: cpuMsOf(emulatorPid) - emulatorBefore };
}

/** The two bounds above, for one round. */
export function sessionBounds(directMs: number, h: MandatoryHashes): { sequential: number; overlapped: number } {
  return { sequential: directMs / (directMs + h.localHashMs + h.rereadMs), overlapped: directMs / (directMs + h.localHashMs + h.rereadEmulatorCpuMs) };
}

export interface SessionRound {
  directWhole: DirectUpload;
  directChunks: DirectUpload;
  cli: CliRun;
  /** direct PUT / CLI (the issue's ratio). */
  ratio: number;
  hashes: MandatoryHashes;
  bounds: { sequential: number; overlapped: number };
  /** The emulator's CPU during the direct PUT, as a share of one core. */
  directEmulatorBusy: number;
}

/**
 * One round of the upload-session step, in turn with pauses between: a direct PUT of `files`,
 * the issue's two hashes alone, `netboot profile set` of the same files (checked by `check`),
 * the direct upload again in 8 MiB chunks; the direct objects are deleted afterwards.
 */
export async function sessionRound(bucket: Bucket, files: readonly FileSpec[], cli: Parameters<typeof cliProfileSet>[0], check: (run: CliRun) => void): Promise<SessionRound> {
  await settle(500);
  const emulatorBefore = cpuMsOf(cli.emulatorsPid);
  const directWhole = await directUpload(bucket, files, 'whole');
  const directEmulatorBusy = (cpuMsOf(cli.emulatorsPid) - emulatorBefore) / directWhole.ms;
  await settle(500);
  const hashes = await mandatoryHashes(bucket, files, directWhole.objects, cli.emulatorsPid);
  await settle(500);
  const run = await cliProfileSet(cli);
  check(run);
  await settle(500);
  const directChunks = await directUpload(bucket, files, 'chunks');
  await Promise.all([...directWhole.objects, ...directChunks.objects].map((name) => bucket.file(name).delete()));
  return { directWhole, directChunks, cli: run, ratio: directWhole.ms / run.ms, hashes, bounds: sessionBounds(directWhole.ms, hashes), directEmulatorBusy };
}

export interface CliRun {
  exitCode: number;
  /** spawn -> `ready` (node + tsx + the CLI's modules loaded). */
  startupMs: number;
  /** `go` -> `done`: the whole `profile set`. */
  ms: number;
  /** Phases from the CLI's own stderr lines, timestamped as they arrived (ms from `go`). */
  phases: { hashedMs: number; sessionOpenedMs: number; sentMs: number; finalizedMs: number };
  /** CPU (ms) of the CLI, the gateway and the emulators from `go` to each phase's end (read as the CLI's line for it arrived). */
  phaseCpuMs: Record<'hashed' | 'sessionOpened' | 'sent' | 'finalized', { cli: number; gateway: number; emulators: number }>;
  /** From `netboot: upload stats`. */
  stats: { files: Record<string, { size: number; sent: number; held: boolean; seconds: number }> } | null;
  profile: { id?: string; initrd?: { sha256?: string; size?: number } } | null;
  cliRss: { baseline: number; peak: number; growth: number; hwmReset: boolean };
  gatewayRss: { baseline: number; peak: number; growth: number; hwmReset: boolean };
  cpuPercent: Record<string, number>;
  stderrTail: string[];
}

function growthOf(r: ReturnType<RssSampler['stop']>) {
  const peak = Math.max(r.peakSampled, r.peakHwm ?? 0);
  return { baseline: r.baseline, peak, growth: peak - r.baseline, hwmReset: r.peakHwm !== null };
}

/**
 * `netboot profile set MACHINE --kernel K --initrd I --json` in a child process against the
 * gateway at `url`. The CLI's and the gateway's RSS are sampled (VmRSS every 20 ms plus
 * VmHWM after a clear_refs reset) from `go` to `done`: hashing, session, chunks, finalize.
 */
export async function cliProfileSet(opts: { url: string; token: string; stateDir: string; machineId: string; kernel: string; initrd: string; gatewayPid: number; emulatorsPid: number }): Promise<CliRun> {
  const env = { ...process.env, NETBOOT_URL: opts.url, NETBOOT_TOKEN: opts.token, XDG_STATE_HOME: opts.stateDir };
  const spawned = performance.now();
  const child = await startChild('cli-child.ts', env, 'pipe', [], 60_000, 'pipe');
  const startupMs = performance.now() - spawned;
  let go = 0;
  let cpuAt = () => ({ cli: NaN, gateway: NaN, emulators: NaN });
  const lines: { at: number; text: string; cpu: ReturnType<typeof cpuAt> }[] = [];
  let stdout = '';
  let partial = '';
  child.proc.stderr?.setEncoding('utf8').on('data', (d: string) => {
    const at = performance.now() - go;
    partial += d;
    const parts = partial.split('\n');
    partial = parts.pop() ?? '';
    for (const text of parts) lines.push({ at, text, cpu: cpuAt() });
  });
  child.proc.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  const exited = new Promise<void>((ok) => child.proc.once('exit', () => ok()));

  await new Promise((ok) => setTimeout(ok, 300));
  const cliRss = new RssSampler(child.pid, 20);
  const gatewayRss = new RssSampler(opts.gatewayPid, 20);
  const meter = new CpuMeter({ cli: child.pid, gateway: opts.gatewayPid, emulators: opts.emulatorsPid });
  const pids = { cli: child.pid, gateway: opts.gatewayPid, emulators: opts.emulatorsPid };
  const cpuAtGo = { cli: cpuMsOf(pids.cli), gateway: cpuMsOf(pids.gateway), emulators: cpuMsOf(pids.emulators) };
  cpuAt = () => ({ cli: cpuMsOf(pids.cli) - cpuAtGo.cli, gateway: cpuMsOf(pids.gateway) - cpuAtGo.gateway, emulators: cpuMsOf(pids.emulators) - cpuAtGo.emulators });
  go = performance.now();
  const done = new Promise<number>((ok, fail) => {
    child.proc.on('message', (m: { type?: string; code?: number }) => {
      if (m.type === 'done') ok(m.code ?? -1);
    });
    child.proc.once('exit', (code) => fail(new Error(`CLI child exited (${code}) before it was done`)));
  });
  child.proc.send({ type: 'go', argv: ['profile', 'set', opts.machineId, '--kernel', opts.kernel, '--initrd', opts.initrd, '--arg', 'console=ttyS0', '--json'] });
  const exitCode = await done;
  const ms = performance.now() - go;
  const cpuPercent = meter.read();
  const cli = growthOf(cliRss.stop());
  const gateway = growthOf(gatewayRss.stop());
  await child.stop();
  await exited;
  if (partial) lines.push({ at: performance.now() - go, text: partial, cpu: { cli: NaN, gateway: NaN, emulators: NaN } });

  const lineOf = (re: RegExp, last = false) => {
    const hits = lines.filter((l) => re.test(l.text));
    return last ? hits.at(-1) : hits[0];
  };
  const marks = {
    // Hashed before the session (cache hit or transfer resumable), or declared by size alone and hashed while sent (transfer parts).
    hashed: lineOf(/^initrd: \/.* \d+ bytes( sha256 [0-9a-f]{64}| \(hashed while it is sent\))$/),
    sessionOpened: lineOf(/^upload session \S+ opened/),
    sent: lineOf(/^initrd: (sent \d+ bytes|Storage already held|the service already has it)/, true),
    finalized: lineOf(/^netboot: upload stats /),
  };
  const none = { cli: NaN, gateway: NaN, emulators: NaN };
  const statsLine = marks.finalized;
  let profile: CliRun['profile'] = null;
  try {
    profile = JSON.parse(stdout) as CliRun['profile'];
  } catch {
    profile = null;
  }
  return {
    exitCode,
    startupMs,
    ms,
    phases: { hashedMs: marks.hashed?.at ?? NaN, sessionOpenedMs: marks.sessionOpened?.at ?? NaN, sentMs: marks.sent?.at ?? NaN, finalizedMs: marks.finalized?.at ?? NaN },
    phaseCpuMs: { hashed: marks.hashed?.cpu ?? none, sessionOpened: marks.sessionOpened?.cpu ?? none, sent: marks.sent?.cpu ?? none, finalized: marks.finalized?.cpu ?? none },
    stats: statsLine ? (JSON.parse(statsLine.text.slice('netboot: upload stats '.length)) as CliRun['stats']) : null,
    profile,
    cliRss: cli,
    gatewayRss: gateway,
    cpuPercent,
    stderrTail: lines.slice(-8).map((l) => l.text),
  };
}

export async function fileSize(path: string): Promise<number> {
  return (await stat(path)).size;
}

/**
 * The upload-session step alone (what `npm run bench` runs as step 5, same layout: emulators
 * and gateway in children, the CLI in a child, rounds in turn):
 *   npx tsx bench/session-upload.ts [rounds] [initrdMiB]
 */
async function standalone(): Promise<void> {
  const rounds = Number(process.argv[2] ?? 3);
  const initrdBytes = Number(process.argv[3] ?? 150) * MiB;
  const kernelBytes = MiB;
  const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  const log = (line: string) => process.stdout.write(`${line}\n`);
  log(`load average at start: ${loadavg()}`);
  const suffix = randomBytes(4).toString('hex');
  Object.assign(process.env, { GOOGLE_CLOUD_PROJECT: `demo-bench-${suffix}`, BLOB_BUCKET: `demo-bench-${suffix}-blobs`, METADATA_SERVER_DETECTION: 'none' });
  const dir = mkdtempSync(join(tmpdir(), 'netboot-bench-upload-'));
  try {
    const emulators = await startChild('emulators.ts', { ...process.env });
    if (!('firestoreHost' in emulators.ready)) throw new Error('emulators child sent no hosts');
    Object.assign(process.env, { FIRESTORE_EMULATOR_HOST: emulators.ready.firestoreHost, STORAGE_EMULATOR_HOST: emulators.ready.storageHost });
    const clients = createClients(loadConfig(process.env));
    const gateway = await startChild('../emulators/gateway-process.ts', { ...process.env, LOG_LEVEL: 'warn', ASSET_DELIVERY: 'proxy', KERNEL_MAX_BYTES: String(64 * MiB) });
    if (!('url' in gateway.ready)) throw new Error('gateway child sent no url');
    const url = gateway.ready.url;
    const files = [writeRandomFile(join(dir, 'vmlinuz'), kernelBytes), writeRandomFile(join(dir, 'initrd.img'), initrdBytes)];
    const small = [writeRandomFile(join(dir, 'vmlinuz-small'), 256 * 1024), writeRandomFile(join(dir, 'initrd-small.img'), MiB)];
    const at = { url, stateDir: join(dir, 'state'), gatewayPid: gateway.pid, emulatorsPid: emulators.pid };
    const opts = (f: readonly FileSpec[]) => cliOptions(at, f);
    const check = (run: CliRun) => {
      if (run.exitCode !== 0) throw new Error(`netboot profile set: exit ${run.exitCode}; stderr:\n${run.stderrTail.join('\n')}`);
    };
    check(await cliProfileSet(await opts(small)));
    await directUpload(clients.bucket, small, 'whole');
    const results: SessionRound[] = [];
    for (let i = 0; i < rounds; i++) {
      await freshen(files);
      const r = await sessionRound(clients.bucket, files, await opts(files), check);
      const { cli, hashes, bounds } = r;
      const p = cli.phases;
      log(
        `round ${i + 1}: direct PUT ${r.directWhole.ms.toFixed(0)} ms, CLI ${cli.ms.toFixed(0)} ms (hash ${p.hashedMs.toFixed(0)}, open ${(p.sessionOpenedMs - p.hashedMs).toFixed(0)}, send ${(p.sentMs - p.sessionOpenedMs).toFixed(0)}, finalize ${(p.finalizedMs - p.sentMs).toFixed(0)}), direct chunks ${r.directChunks.ms.toFixed(0)} ms; ratio ${r.ratio.toFixed(2)}; CLI RSS +${(cli.cliRss.growth / MiB).toFixed(1)} MiB, gateway +${(cli.gatewayRss.growth / MiB).toFixed(1)} MiB; CPU ${Object.entries(cli.cpuPercent).map(([k, v]) => `${k} ${v.toFixed(0)}%`).join(', ')}`,
      );
      log(`round ${i + 1}: the two required hashes alone: local ${hashes.localHashMs.toFixed(0)} ms, stored ${hashes.rereadMs.toFixed(0)} ms (emulator CPU ${hashes.rereadEmulatorCpuMs.toFixed(0)} ms); estimated best ratio in turn ${bounds.sequential.toFixed(2)}, overlapped ${bounds.overlapped.toFixed(2)}; emulator CPU during the direct PUT ${(r.directEmulatorBusy * 100).toFixed(0)}% of a core`);
      results.push(r);
    }
    const med = (f: (r: (typeof results)[number]) => number) => median(results.map(f));
    const ratios = results.map((r) => r.ratio);
    log(`median: direct PUT ${ms(med((r) => r.directWhole.ms))}, CLI ${ms(med((r) => r.cli.ms))}, direct chunks ${ms(med((r) => r.directChunks.ms))}`);
    log(`median phases: hash ${ms(med((r) => r.cli.phases.hashedMs))}, open ${ms(med((r) => r.cli.phases.sessionOpenedMs - r.cli.phases.hashedMs))}, send ${ms(med((r) => r.cli.phases.sentMs - r.cli.phases.sessionOpenedMs))}, finalize ${ms(med((r) => r.cli.phases.finalizedMs - r.cli.phases.sentMs))}`);
    log(`ratio session / direct PUT: median ${median(ratios).toFixed(2)} [${Math.min(...ratios).toFixed(2)}..${Math.max(...ratios).toFixed(2)}]`);
    log(`estimated best ratio a session can reach: steps in turn ${median(results.map((r) => r.bounds.sequential)).toFixed(2)}, stored bytes hashed during the upload ${median(results.map((r) => r.bounds.overlapped)).toFixed(2)} (medians)`);
    log(`RSS growth max: CLI ${(Math.max(...results.map((r) => r.cli.cliRss.growth)) / MiB).toFixed(1)} MiB, gateway ${(Math.max(...results.map((r) => r.cli.gatewayRss.growth)) / MiB).toFixed(1)} MiB`);
    log(`load average at end: ${loadavg()}`);
    await clients.close().catch(() => undefined);
  } finally {
    await stopAllChildren();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  standalone().then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}
