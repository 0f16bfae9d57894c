// Issue 24, section 3: upload sessions over a shaped link, as a ratio of a direct upload over
// the same link. The loopback step (bench/session-upload.ts) measures the session's fixed costs
// against a direct PUT that the Storage emulator's one thread bounds; a real client is bounded by
// its uplink instead. Here the clients run in a network namespace joined to the host by a veth
// pair, both ends shaped with tc's token bucket (tbf), and the local stack (emulators and gateway
// in children of their own, as in `npm run bench`) listens on the host's end of the veth:
//   - the emulators and the gateway listen on that address (HOST), so the session URIs the
//     gateway hands out (the emulator answers with the Host it was asked under) name an address
//     the namespace reaches; the gateway reaches the emulator on the host itself, unshaped, as a
//     function reaches Cloud Storage inside Google's network;
//   - admin routes have no address allow-list (BOOT_ALLOWED_CIDRS is for the boot routes only);
//   - one client process in the namespace runs, per rate: a plain HTTP PUT to a sink on the host
//     (what the link delivers), then rounds of the direct resumable upload (the loopback step's
//     yardstick: createResumableUpload + one streamed PUT per file) and `netboot profile set`
//     (the CLI in a child, which inherits the namespace), in turn, order swapped every round.
// tbf, not netem: this kernel has no netem ("Specified qdisc kind is unknown"), so the link has
// a rate and no added delay (the veth's round trip is tens of microseconds).
//
//   npx tsx bench/shaped-upload.ts [--rate 1gbit,1gbit@150,100mbit] [--rounds N] [--initrd-mib N]
// A rate may name its initrd's size in MiB (`1gbit@150`); otherwise it gets about 10 s of link.
// Root only; prerequisites from scripts/e2e/prepare-shaping.sh (iproute2). Without root it says
// why it is skipped and exits 0 (a bench, not a test).
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createClients } from '../shared/clients';
import { loadConfig } from '../shared/config';
import { MiB } from './fixtures';
import { startChild, stopAllChildren, type Child } from './proc';
import { median } from './report';
import { cliOptions, cliProfileSet, directUpload, freshen, writeRandomFile, type CliRun, type FileSpec } from './session-upload';
import { deleteNamespace, deleteStaleNamespaces } from '../test/helpers/netns';

const REPO = resolve(__dirname, '..');
const PREPARE = join(REPO, 'scripts/e2e/prepare-shaping.sh');
const NS_PREFIX = 'nbshape';
const NS_RE = new RegExp(`^${NS_PREFIX}-(\\d+)$`);
const KERNEL_BYTES = MiB;
/**
 * The rates `npm run bench` and this file measure: each with about 10 s of link (1000 MiB at
 * 1 Gbit/s, the service's largest initrd but headroom), and 1 Gbit/s with 150 MiB too, where the
 * session's fixed costs (preflight, open, finalize: a few round trips, a compose and a commit,
 * about 0.3 s) weigh against the 1.3 s the bytes take.
 */
export const DEFAULT_RATES = ['1gbit@150', '1gbit', '100mbit']; // the small one first: the 1000 MiB rounds leave disk writeback behind
/** Each upload should take about this long on the link: fixed costs of ~1 s then show at ~10 % resolution. */
const TARGET_UPLOAD_SECONDS = 10;
/**
 * The largest initrd a rate gets: the service takes at most 1 GiB (INITRD_MAX_BYTES' default), so
 * 1000 MiB (8.4 s at 1 Gbit/s, where 10 s would be 1,137 MiB) leaves the kernel and headroom.
 */
const MAX_INITRD_MIB = 1000;
/** The veth unshaped (`none`): the loopback step's initrd. */
const UNSHAPED_INITRD_MIB = 150;

/** `100mbit`, `1gbit`, `500kbit`, or `none` (the veth unshaped): bits per second, null for none. */
export function parseRate(rate: string): number | null {
  if (rate === 'none') return null;
  const m = /^(\d+(?:\.\d+)?)(k|m|g)bit$/i.exec(rate);
  if (!m) throw new Error(`rate ${rate}: expected e.g. 100mbit, 1gbit or none`);
  return Number(m[1]) * { k: 1e3, m: 1e6, g: 1e9 }[(m[2] as string).toLowerCase() as 'k' | 'm' | 'g'];
}

/** `RATE` or `RATE@MiB` (the initrd's size for that rate). */
export function parseRateSpec(spec: string): { label: string; bitsPerSecond: number | null; initrdMib?: number } {
  const [rate = '', mib] = spec.split('@');
  if (mib !== undefined && !/^\d+$/.test(mib)) throw new Error(`rate ${spec}: expected RATE or RATE@MiB, e.g. 1gbit@150`);
  return { label: spec, bitsPerSecond: parseRate(rate), ...(mib === undefined ? {} : { initrdMib: Number(mib) }) };
}

/** About TARGET_UPLOAD_SECONDS of the link, whole MiB, at most MAX_INITRD_MIB. */
export function initrdMibFor(bitsPerSecond: number | null): number {
  if (bitsPerSecond === null) return UNSHAPED_INITRD_MIB;
  return Math.max(8, Math.min(MAX_INITRD_MIB, Math.round((bitsPerSecond / 8) * TARGET_UPLOAD_SECONDS / MiB)));
}

// --- the link: a namespace, a veth pair, tbf on both ends ---

function run(cmd: string, args: string[]): void {
  const res = spawnSync(cmd, args, { encoding: 'utf8' });
  if (res.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${(res.stderr || res.error?.message || `exit ${res.status}`).trim()}`);
}


/**
 * The stand-in for Cloud Storage receives and serves hundreds of MiB a round here, on the same two
 * cores as the clients whose transfer it measures (Cloud Storage costs a client none). Its Node
 * process gets the allocator and collector settings that keep its cost per byte down:
 * - glibc keeps the memory it frees (trim threshold 1 GiB, no mmap below 32 MiB): every 64 KiB
 *   socket read and 1 MiB file read is a fresh malloc, and with the defaults freed blocks go back
 *   to the kernel and fault in again;
 * - V8 counts the Buffers' memory in its global heap limit rather than starting a full collection
 *   of the emulators' heap for every few tens of MiB of them (`--trace-incremental-marking`:
 *   "Start (external memory pressure)").
 * Measured side by side (two runs each way, 1 Gbit/s, 151 MiB): the emulators' CPU during the send
 * 1,430-1,590 ms without, 930-1,090 ms with. SHAPED_EMULATOR_TUNING=0 runs it with the defaults.
 */
const emulatorTuning =
  process.env.SHAPED_EMULATOR_TUNING === '0'
    ? { env: {}, nodeArgs: [] }
    : { env: { GLIBC_TUNABLES: 'glibc.malloc.trim_threshold=1073741824:glibc.malloc.mmap_threshold=33554432' }, nodeArgs: ['--external-memory-accounted-in-global-limit'] };

export interface ShapedLink {
  namespace: string;
  hostIp: string;
  nsIp: string;
  /** Shapes both directions to `bitsPerSecond` (null: removes the shaping). */
  shape(bitsPerSecond: number | null): void;
  destroy(): void;
}

/**
 * 198.18.0.0/15 is the range RFC 2544 reserves for benchmarks; a /30 per run, chosen by pid, so
 * runs of several engineers do not collide. Interface names carry the pid too (15 characters max).
 */
function createLink(): ShapedLink {
  deleteStaleNamespaces(NS_RE);
  const pid = process.pid;
  const namespace = `${NS_PREFIX}-${pid}`;
  const hostDev = `nbsh${pid}h`;
  const nsDev = `nbsh${pid}n`;
  const base = `198.18.${(pid >> 6) & 0xff}.${(pid & 0x3f) * 4}`.split('.').map(Number);
  const at = (n: number) => [...base.slice(0, 3), (base[3] as number) + n].join('.');
  const hostIp = at(1);
  const nsIp = at(2);
  deleteNamespace(namespace);
  const onExit = () => deleteNamespace(namespace);
  process.on('exit', onExit);
  const destroy = () => {
    deleteNamespace(namespace);
    spawnSync('ip', ['link', 'del', hostDev], { stdio: 'ignore' }); // gone with the namespace; in case the peer was never moved
    process.off('exit', onExit);
  };
  try {
    run('ip', ['netns', 'add', namespace]);
    run('ip', ['link', 'add', hostDev, 'type', 'veth', 'peer', 'name', nsDev, 'netns', namespace]);
    run('ip', ['addr', 'add', `${hostIp}/30`, 'dev', hostDev]);
    run('ip', ['link', 'set', hostDev, 'up']);
    run('ip', ['-n', namespace, 'link', 'set', 'lo', 'up']);
    run('ip', ['-n', namespace, 'addr', 'add', `${nsIp}/30`, 'dev', nsDev]);
    run('ip', ['-n', namespace, 'link', 'set', nsDev, 'up']);
  } catch (err) {
    destroy();
    throw err;
  }
  return {
    namespace,
    hostIp,
    nsIp,
    shape(bitsPerSecond) {
      for (const [dev, netns] of [
        [hostDev, null],
        [nsDev, namespace],
      ] as const) {
        const prefix = netns ? ['-n', netns] : [];
        if (bitsPerSecond === null) {
          spawnSync('tc', [...prefix, 'qdisc', 'del', 'dev', dev, 'root'], { stdio: 'ignore' });
          continue;
        }
        // tbf: the bucket must hold at least what the rate brings in one timer tick (4 ms at
        // HZ=250; tc-tbf(8): "burst ... at least rate/HZ") and a full-size GSO packet (64 KiB);
        // latency bounds the queue (tc-tbf(8)), 50 ms as commonly used.
        const burst = Math.max(64 * 1024, Math.ceil((bitsPerSecond / 8) * 0.004));
        run('tc', [...prefix, 'qdisc', 'replace', 'dev', dev, 'root', 'tbf', 'rate', `${bitsPerSecond}bit`, 'burst', String(burst), 'latency', '50ms']);
      }
    },
    destroy,
  };
}

/** Why the step cannot run here, or null when it can (installs iproute2 through the project script if needed). */
export function shapedUploadUnavailable(): string | null {
  if (process.getuid?.() !== 0) return 'needs root (a network namespace, a veth pair, tc qdiscs)';
  const missing = () => ['ip', 'tc'].filter((t) => spawnSync('sh', ['-c', `command -v ${t}`], { stdio: 'ignore' }).status !== 0);
  if (missing().length === 0) return null;
  const res = spawnSync('bash', [PREPARE], { encoding: 'utf8', timeout: 10 * 60_000 });
  if (res.status !== 0) return `scripts/e2e/prepare-shaping.sh failed: ${`${res.stdout ?? ''}${res.stderr ?? ''}`.trim().split('\n').slice(-3).join(' / ')}`;
  return missing().length === 0 ? null : `still missing after prepare-shaping.sh: ${missing().join(', ')}`;
}

// --- what the client process in the namespace is told, and what it answers ---

interface ClientJob {
  gatewayUrl: string;
  sinkUrl: string;
  stateDir: string;
  gatewayPid: number;
  emulatorsPid: number;
  files: FileSpec[];
  small: FileSpec[];
  rounds: number;
  plainBytes: number;
}

export interface ShapedRound {
  order: 'direct first' | 'session first';
  directMs: number;
  sessionMs: number;
  /** direct / session time for the same bytes: the session's throughput as a share of the direct upload's. */
  ratio: number;
  phases: CliRun['phases'];
  /** CPU during the session run, ms: the CLI (hash, send), the gateway (open, finalize's re-read and hash), the emulators (receive, serve the re-read), everything else on the machine. */
  sessionCpuMs: Record<string, number>;
  /** The same CPU by phase (preflight, open, send, finalize), ms, for the CLI, the gateway and the emulators. */
  phaseCpuMs: Record<Phase, { cli: number; gateway: number; emulators: number }>;
}

type Phase = 'preflight' | 'open' | 'send' | 'finalize';

/** CliRun's cumulative CPU at each phase's end, as each phase's own. */
function cpuByPhase(run: CliRun): ShapedRound['phaseCpuMs'] {
  const c = run.phaseCpuMs;
  const zero = { cli: 0, gateway: 0, emulators: 0 };
  const minus = (a: typeof zero, b: typeof zero) => ({ cli: a.cli - b.cli, gateway: a.gateway - b.gateway, emulators: a.emulators - b.emulators });
  return { preflight: minus(c.hashed, zero), open: minus(c.sessionOpened, c.hashed), send: minus(c.sent, c.sessionOpened), finalize: minus(c.finalized, c.sent) };
}

interface ClientAnswer {
  plain: { bytes: number; ms: number };
  rounds: ShapedRound[];
}

function plainPut(url: string, bytes: number): Promise<number> {
  const piece = randomBytes(4 * MiB);
  return new Promise((ok, fail) => {
    const started = performance.now();
    const req = http.request(url, { method: 'PUT', agent: false, headers: { 'content-length': String(bytes) } }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? ok(performance.now() - started) : fail(new Error(`sink answered ${res.statusCode}`))));
    });
    req.on('error', fail);
    let left = bytes;
    const more = () => {
      while (left > 0) {
        const n = Math.min(left, piece.length);
        left -= n;
        if (!req.write(piece.subarray(0, n))) return void req.once('drain', more);
      }
      req.end();
    };
    more();
  });
}

/** The client side, run inside the namespace: the plain transfer, then the rounds. Prints one JSON line. */
async function clientMain(job: ClientJob): Promise<void> {
  const log = (line: string) => process.stderr.write(`  [namespace] ${line}\n`);
  const plainMs = await plainPut(job.sinkUrl, job.plainBytes);
  log(`plain PUT of ${(job.plainBytes / MiB).toFixed(0)} MiB to a sink on the host: ${(job.plainBytes / MiB / (plainMs / 1000)).toFixed(1)} MiB/s`);
  const clients = createClients(loadConfig(process.env));
  const at = { url: job.gatewayUrl, stateDir: job.stateDir, gatewayPid: job.gatewayPid, emulatorsPid: job.emulatorsPid };
  const check = (run: CliRun, files: readonly FileSpec[]) => {
    const sent = run.stats?.files.initrd?.sent;
    if (run.exitCode !== 0 || run.profile?.initrd?.size !== files[1]?.size || sent !== files[1]?.size) {
      throw new Error(`netboot profile set: exit ${run.exitCode}, initrd sent ${sent}; stderr:\n${run.stderrTail.join('\n')}`);
    }
  };
  // Warm-up over the link: the CLI's and the Storage client's first requests (fresh bytes: an earlier rate sent these files).
  await freshen(job.small);
  check(await cliProfileSet(await cliOptions(at, job.small)), job.small);
  const warm = await directUpload(clients.bucket, job.small, 'whole');
  await Promise.all(warm.objects.map((name) => clients.bucket.file(name).delete()));
  const bytes = job.files.reduce((n, f) => n + f.size, 0);
  const rounds: ShapedRound[] = [];
  for (let i = 0; i < job.rounds; i++) {
    await freshen(job.files);
    const opts = await cliOptions(at, job.files);
    const directFirst = i % 2 === 0;
    let direct: Awaited<ReturnType<typeof directUpload>> | undefined;
    let session: CliRun | undefined;
    for (const which of directFirst ? ['direct', 'session'] : ['session', 'direct']) {
      if (which === 'direct') direct = await directUpload(clients.bucket, job.files, 'whole');
      else check((session = await cliProfileSet(opts)), job.files);
    }
    if (!direct || !session) throw new Error('a round ran neither upload');
    await Promise.all(direct.objects.map((name) => clients.bucket.file(name).delete()));
    const r: ShapedRound = { order: directFirst ? 'direct first' : 'session first', directMs: direct.ms, sessionMs: session.ms, ratio: direct.ms / session.ms, phases: session.phases, sessionCpuMs: Object.fromEntries(Object.entries(session.cpuPercent).map(([k, v]) => [k, (v / 100) * session.ms])), phaseCpuMs: cpuByPhase(session) };
    const p = r.phases;
    log(
      `round ${i + 1} (${r.order}): direct ${mibPerSec(bytes, r.directMs)} MiB/s (${r.directMs.toFixed(0)} ms), session ${mibPerSec(bytes, r.sessionMs)} MiB/s (${r.sessionMs.toFixed(0)} ms: hash ${p.hashedMs.toFixed(0)}, open ${(p.sessionOpenedMs - p.hashedMs).toFixed(0)}, send ${(p.sentMs - p.sessionOpenedMs).toFixed(0)}, finalize ${(p.finalizedMs - p.sentMs).toFixed(0)}); ratio ${r.ratio.toFixed(3)}; CPU during the session: ${cpuText(r.sessionCpuMs)}; by phase ${phaseCpuText(r.phaseCpuMs)}`,
    );
    rounds.push(r);
  }
  await clients.close().catch(() => undefined);
  const answer: ClientAnswer = { plain: { bytes: job.plainBytes, ms: plainMs }, rounds };
  process.stdout.write(`${JSON.stringify(answer)}\n`);
}

const mibPerSec = (bytes: number, ms: number) => (bytes / MiB / (ms / 1000)).toFixed(1);
/** cpuPercent's names: `client` is the process that ran the CLI child (idle meanwhile), `other` what this bench did not start. */
const cpuText = (c: Record<string, number>) => `CLI ${(c.cli ?? NaN).toFixed(0)} ms, gateway ${(c.gateway ?? NaN).toFixed(0)} ms, emulators ${(c.emulators ?? NaN).toFixed(0)} ms, not ours ${(c.other ?? NaN).toFixed(0)} ms`;

/** `phase gateway/emulators/CLI` ms for each phase. */
const phaseCpuText = (p: ShapedRound['phaseCpuMs']) =>
  (Object.entries(p) as [Phase, { cli: number; gateway: number; emulators: number }][]).map(([phase, c]) => `${phase} ${c.gateway.toFixed(0)}/${c.emulators.toFixed(0)}/${c.cli.toFixed(0)}`).join(', ') + ' (gateway/emulators/CLI ms)';

/** Runs clientMain in the namespace (this file, again, under `ip netns exec`); its children inherit the namespace. */
function runClient(namespace: string, env: NodeJS.ProcessEnv, job: ClientJob): Promise<ClientAnswer> {
  return new Promise((ok, fail) => {
    const child = spawn('ip', ['netns', 'exec', namespace, process.execPath, '--import', 'tsx', __filename], {
      cwd: REPO,
      env: { ...env, SHAPED_UPLOAD_CLIENT: JSON.stringify(job) },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.on('error', fail);
    child.on('exit', (code) => {
      const last = out.trim().split('\n').at(-1) ?? '';
      if (code !== 0 || !last.startsWith('{')) return fail(new Error(`the client in ${namespace} exited ${code}`));
      ok(JSON.parse(last) as ClientAnswer);
    });
  });
}

// --- the host side ---

export interface RateResult {
  rate: string;
  bitsPerSecond: number | null;
  /** The link's own speed, measured here with a plain PUT. */
  plainMibPerSec: number;
  bytes: number;
  rounds: ShapedRound[];
  directMibPerSec: number;
  sessionMibPerSec: number;
  ratio: number;
}

export type ShapedReport = { skipped: string } | { loadBefore: string; loadAfter: string; hostIp: string; nsIp: string; rates: RateResult[] };

const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

/** The whole step: link, stack, per rate the plain transfer and the rounds; everything started here is stopped. */
export async function shapedUploads(opts: { rates: string[]; rounds: number; initrdMib?: number; log: (line: string) => void }): Promise<ShapedReport> {
  const why = shapedUploadUnavailable();
  if (why) return { skipped: why };
  const rates = opts.rates.map(parseRateSpec);
  const loadBefore = loadavg();
  const link = createLink();
  const dir = mkdtempSync(join(tmpdir(), 'netboot-bench-shaped-'));
  // Also when Ctrl-C ends the run: the files are up to 1000 MiB.
  const removeDir = () => rmSync(dir, { recursive: true, force: true });
  process.on('exit', removeDir);
  const started: Child[] = [];
  const sink = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => res.end('ok'));
  });
  try {
    opts.log(`link: namespace ${link.namespace}, veth ${link.nsIp} -> ${link.hostIp} (host); load ${loadBefore}`);
    const suffix = randomBytes(4).toString('hex');
    const base: NodeJS.ProcessEnv = { ...process.env, GOOGLE_CLOUD_PROJECT: `demo-bench-${suffix}`, BLOB_BUCKET: `demo-bench-${suffix}-blobs`, METADATA_SERVER_DETECTION: 'none' };
    delete base.FIRESTORE_EMULATOR_HOST;
    delete base.STORAGE_EMULATOR_HOST;
    const emulators = await startChild('emulators.ts', { ...base, HOST: link.hostIp, ...emulatorTuning.env }, 'ignore', emulatorTuning.nodeArgs);
    started.push(emulators);
    if (!('firestoreHost' in emulators.ready)) throw new Error('emulators child sent no hosts');
    const env = { ...base, FIRESTORE_EMULATOR_HOST: emulators.ready.firestoreHost, STORAGE_EMULATOR_HOST: emulators.ready.storageHost };
    const gateway = await startChild('../emulators/gateway-process.ts', { ...env, HOST: link.hostIp, LOG_LEVEL: 'warn', KERNEL_MAX_BYTES: String(64 * MiB) });
    started.push(gateway);
    if (!('url' in gateway.ready)) throw new Error('gateway child sent no url');
    opts.log(`stack: gateway ${gateway.ready.url}, Storage ${emulators.ready.storageHost} (session URIs name it), Firestore ${emulators.ready.firestoreHost}`);
    await new Promise<void>((ok) => sink.listen(0, link.hostIp, ok));
    const sinkUrl = `http://${link.hostIp}:${(sink.address() as AddressInfo).port}/`;
    const small = [writeRandomFile(join(dir, 'vmlinuz-small'), 256 * 1024), writeRandomFile(join(dir, 'initrd-small.img'), MiB)];
    const results: RateResult[] = [];
    for (const { label: rate, bitsPerSecond, initrdMib: sized } of rates) {
      const initrdMib = opts.initrdMib ?? sized ?? initrdMibFor(bitsPerSecond);
      const files = [writeRandomFile(join(dir, `vmlinuz-${rate}`), KERNEL_BYTES), writeRandomFile(join(dir, `initrd-${rate}.img`), initrdMib * MiB)];
      const bytes = KERNEL_BYTES + initrdMib * MiB;
      link.shape(bitsPerSecond);
      opts.log(`rate ${rate}: ${bitsPerSecond === null ? 'the veth unshaped' : 'tbf on both veth ends'}; files: kernel 1 MiB, initrd ${initrdMib} MiB; ${opts.rounds} round(s), direct and session in turn`);
      // Three seconds of the link (64 MiB unshaped), from memory: what the link delivers to a plain PUT.
      const plainBytes = bitsPerSecond === null ? 512 * MiB : Math.min(512 * MiB, Math.round(((bitsPerSecond / 8) * 3) / MiB) * MiB);
      const answer = await runClient(link.namespace, env, { gatewayUrl: gateway.ready.url, sinkUrl, stateDir: join(dir, 'state'), gatewayPid: gateway.pid, emulatorsPid: emulators.pid, files, small, rounds: opts.rounds, plainBytes });
      const plainMibPerSec = answer.plain.bytes / MiB / (answer.plain.ms / 1000);
      const directMs = median(answer.rounds.map((r) => r.directMs));
      const sessionMs = median(answer.rounds.map((r) => r.sessionMs));
      const result: RateResult = {
        rate,
        bitsPerSecond,
        plainMibPerSec,
        bytes,
        rounds: answer.rounds,
        directMibPerSec: bytes / MiB / (directMs / 1000),
        sessionMibPerSec: bytes / MiB / (sessionMs / 1000),
        ratio: median(answer.rounds.map((r) => r.ratio)),
      };
      results.push(result);
      for (const line of rateLines(result)) opts.log(line);
      rmSync(files[1]?.path ?? '', { force: true });
    }
    link.shape(null);
    return { loadBefore, loadAfter: loadavg(), hostIp: link.hostIp, nsIp: link.nsIp, rates: results };
  } finally {
    sink.close();
    sink.closeAllConnections();
    await Promise.all(started.map((c) => c.stop()));
    link.destroy();
    removeDir();
    process.off('exit', removeDir);
  }
}

function rateLines(r: RateResult): string[] {
  const nominal = r.bitsPerSecond === null ? 'unshaped' : `${(r.bitsPerSecond / 8 / MiB).toFixed(1)} MiB/s nominal`;
  const ratios = r.rounds.map((x) => x.ratio);
  const ph = (f: (p: ShapedRound['phases']) => number) => median(r.rounds.map((x) => f(x.phases))).toFixed(0);
  return [
    `${r.rate} (${nominal}): plain PUT ${r.plainMibPerSec.toFixed(1)} MiB/s; ${(r.bytes / MiB).toFixed(0)} MiB per upload`,
    `  direct ${r.directMibPerSec.toFixed(1)} MiB/s, session ${r.sessionMibPerSec.toFixed(1)} MiB/s (medians); session / direct ${r.ratio.toFixed(3)} [${Math.min(...ratios).toFixed(3)}..${Math.max(...ratios).toFixed(3)}] over ${ratios.length} round(s) (target >= 0.9: ${r.ratio >= 0.9 ? 'met' : 'NOT met'})`,
    `  session phases (median ms): hash ${ph((p) => p.hashedMs)}, open ${ph((p) => p.sessionOpenedMs - p.hashedMs)}, send ${ph((p) => p.sentMs - p.sessionOpenedMs)}, finalize ${ph((p) => p.finalizedMs - p.sentMs)}; direct ${median(r.rounds.map((x) => x.directMs)).toFixed(0)} ms`,
    `  CPU during the session (median ms): ${cpuText(Object.fromEntries(['cli', 'gateway', 'emulators', 'other'].map((k) => [k, median(r.rounds.map((x) => x.sessionCpuMs[k] ?? NaN))])))}`,
    `  by phase (median): ${phaseCpuText(Object.fromEntries((['preflight', 'open', 'send', 'finalize'] as const).map((phase) => [phase, Object.fromEntries((['cli', 'gateway', 'emulators'] as const).map((k) => [k, median(r.rounds.map((x) => x.phaseCpuMs[phase][k]))]))])) as ShapedRound['phaseCpuMs'])}`,
  ];
}

/** The report as `npm run bench` prints it. */
export function shapedLines(report: ShapedReport): string[] {
  if ('skipped' in report) return [`  skipped: ${report.skipped}`];
  return [`  veth ${report.nsIp} (namespace, clients) -> ${report.hostIp} (host: emulators, gateway), tbf both ends; load ${report.loadBefore} -> ${report.loadAfter}`, ...report.rates.flatMap((r) => rateLines(r).map((l) => `  ${l}`))];
}

function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function standalone(): Promise<void> {
  const log = (line: string) => process.stdout.write(`${line}\n`);
  const rates = (argValue('--rate') ?? DEFAULT_RATES.join(',')).split(',').filter(Boolean);
  const rounds = Number(argValue('--rounds') ?? 3);
  const initrd = argValue('--initrd-mib');
  log(`load average at start: ${loadavg()}`);
  const report = await shapedUploads({ rates, rounds, ...(initrd ? { initrdMib: Number(initrd) } : {}), log });
  if ('skipped' in report) log(`shaped upload sessions: skipped: ${report.skipped}`);
  log(`load average at end: ${loadavg()}`);
}

if (require.main === module) {
  const job = process.env.SHAPED_UPLOAD_CLIENT;
  const main = job ? () => clientMain(JSON.parse(job) as ClientJob) : standalone;
  const stop = () => void stopAllChildren().finally(() => process.exit(130));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  main().then(
    () => stopAllChildren().then(() => process.exit(0)),
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      void stopAllChildren().finally(() => process.exit(1));
    },
  );
}
