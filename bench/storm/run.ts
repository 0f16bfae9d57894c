// `npm run storm -- [options]`: a boot storm. N simulated machines (bench/storm/machine.ts)
// power on along a curve and boot as the project's iPXE script makes them, against K instances
// of the functions behind a local balancer (each instance its own process, the emulators in
// their own, the balancer enforcing Terraform's per-instance concurrency), or against --url.
// Prints a report (text, or JSON with --json); exits 1 when a machine failed.
//
//   --machines N (2000)         --instances K (2)          --over T (0: all at once; else
//   uniformly over T seconds)   --kernel-bytes (65536)     --initrd-bytes (262144)
//   --delivery redirect|proxy (redirect, Terraform's default)   --source-cidr CIDR (10.64.0.0/16)
//   --refusal-probes P (5: machines that spent their per-MAC budget just before; they must be
//   refused, then boot after Retry-After)   --timeout S (30)   --pause-scale F (1)
//   --url URL --token TOKEN --ca FILE (a deployment: registration through its admin API)
//   --json
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { mintLocalToken } from '../../emulators/local-issuer';
import { cpuMsOf, startChild, stopAllChildren, type Child } from '../proc';
import type { OperationCounts } from '../../emulators/firestore/operations';
import type { BalancerStats } from './balancer';
import { bootMachine, type MachineOutcome, type MachineTarget } from './machine';
import { buildReport, formatReport, type StormReport } from './report';

export interface StormOptions {
  machines: number;
  instances: number;
  overSeconds: number;
  kernelBytes: number;
  initrdBytes: number;
  delivery: 'redirect' | 'proxy';
  sourceCidr: string;
  refusalProbes: number;
  timeoutSeconds: number;
  pauseScale: number;
  url?: string;
  token?: string;
  caFile?: string;
  /** Progress lines on stderr. */
  log: (line: string) => void;
}

export const defaultStormOptions: StormOptions = {
  machines: 2000,
  instances: 2,
  overSeconds: 0,
  kernelBytes: 64 * 1024,
  initrdBytes: 256 * 1024,
  delivery: 'redirect',
  sourceCidr: '10.64.0.0/16',
  refusalProbes: 5,
  timeoutSeconds: 30,
  pauseScale: 1,
  log: (line) => process.stderr.write(`storm: ${line}\n`),
};

/** The per-MAC limit the probes spend (RATE_LIMIT_BOOT_PER_MAC: the spec's 10 a minute). */
const perMacLimit = 10;

/** The `index`-th address of an IPv4 CIDR, skipping the network address. */
export function addressIn(cidr: string, index: number): string {
  const [base, bits] = cidr.split('/');
  const octets = (base ?? '').split('.').map(Number);
  if (octets.length !== 4 || octets.some((o) => !Number.isInteger(o) || o < 0 || o > 255)) throw new Error(`--source-cidr: ${cidr} is not an IPv4 CIDR`);
  const size = 2 ** (32 - Number(bits ?? 32));
  if (index + 1 >= size) throw new Error(`--source-cidr ${cidr} holds fewer than ${index + 2} addresses`);
  const start = (((octets[0] as number) << 24) | ((octets[1] as number) << 16) | ((octets[2] as number) << 8) | (octets[3] as number)) >>> 0;
  const value = (start + index + 1) >>> 0;
  return [value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255].join('.');
}

/** Locally administered unicast MACs (02:...), one prefix per run so runs against one deployment do not collide. */
function macsFor(count: number): string[] {
  const prefix = randomBytes(2).toString('hex');
  return Array.from({ length: count }, (_, i) => `02:${prefix.slice(0, 2)}:${prefix.slice(2)}:${((i >> 16) & 255).toString(16).padStart(2, '0')}:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`);
}

interface LocalStack {
  url: string;
  emulators: Child;
  instances: Child[];
  balancer: Child;
}

/** Emulators, K gateway processes set up as instances behind a front end, the balancer. */
async function startLocal(opts: StormOptions): Promise<LocalStack> {
  const project = `demo-storm-${randomBytes(4).toString('hex')}`;
  const base = { ...process.env, GOOGLE_CLOUD_PROJECT: project, BLOB_BUCKET: `${project}-blobs`, METADATA_SERVER_DETECTION: 'none' };
  const emulators = await startChild('storm/emulators.ts', base);
  if (!('firestoreHost' in emulators.ready)) throw new Error('emulators child sent no hosts');
  const env = {
    ...base,
    FIRESTORE_EMULATOR_HOST: emulators.ready.firestoreHost,
    STORAGE_EMULATOR_HOST: emulators.ready.storageHost,
    LOG_LEVEL: 'warn',
    ASSET_DELIVERY: opts.delivery,
    // Each instance's gateway appends the peer it saw (the balancer) to the X-Forwarded-For the machine sent.
    TRUSTED_PROXY_HOPS: '2',
    BOOT_ALLOWED_CIDRS: `127.0.0.0/8,::1/128,${opts.sourceCidr}`,
    // Registering thousands of machines is set-up, not the storm: the admin limits are off here
    // (100 a minute per administrator would take 60 minutes for 2,000 machines). The boot limits stay.
    RATE_LIMIT_ADMIN_PER_PRINCIPAL: '0',
    RATE_LIMIT_ADMIN_PER_IP: '0',
    RATE_LIMIT_ADMIN_GLOBAL: '0',
    RATE_LIMIT_BOOT_PER_MAC: String(perMacLimit),
  };
  const instances: Child[] = [];
  // One at a time: K cold starts side by side on two loaded cores each take K times as long.
  for (let i = 0; i < opts.instances; i++) instances.push(await startChild('../emulators/gateway-process.ts', env, process.env.STORM_GATEWAY_LOG ? 'inherit' : 'ignore', [], 120_000));
  const urls = instances.map((c) => ('url' in c.ready ? c.ready.url : ''));
  // A request waits at most 10 s for a slot (a third of the machines' timeout): one that waited
  // the whole timeout would be served to a machine that already gave up on it.
  const balancer = await startChild('storm/balancer.ts', { ...process.env, STORM_INSTANCES: JSON.stringify(urls), STORM_PENDING_TIMEOUT_MS: String(Math.min(10, opts.timeoutSeconds / 3) * 1000) });
  if (!('url' in balancer.ready)) throw new Error('balancer sent no url');
  return { url: balancer.ready.url, emulators, instances, balancer };
}

function ask<T>(child: Child, request: object, type: string): Promise<T> {
  return new Promise((ok) => {
    const onMessage = (msg: { type?: string } & Record<string, unknown>) => {
      if (msg?.type !== type) return;
      child.proc.off('message', onMessage);
      ok(msg as T);
    };
    child.proc.on('message', onMessage);
    child.proc.send(request);
  });
}

/** One admin API call (fetch: against an https --url it trusts NODE_EXTRA_CA_CERTS, see main). */
async function api(baseUrl: string, token: string, method: string, path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(new URL(path, baseUrl), { method, headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  const text = await res.text();
  let json: Record<string, unknown> = {};
  try {
    json = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  } catch {
    json = { text: text.slice(0, 300) }; // the balancer's own answers are plain text
  }
  return { status: res.status, json };
}

/**
 * Registers `macs` through the admin API: the machine, then its profile through an upload
 * session that declares the shared kernel and initrd by size and SHA-256. The first machine
 * sends the bytes; every later one is told `upload: null` (the service holds them) and only
 * finalizes, so N profiles cost N small sessions, not N uploads.
 */
async function register(baseUrl: string, token: string, macs: readonly string[], opts: StormOptions): Promise<void> {
  const kernel = randomBytes(opts.kernelBytes);
  const initrd = randomBytes(opts.initrdBytes);
  const declared = (data: Buffer) => ({ size: data.length, sha256: createHash('sha256').update(data).digest('hex') });
  const one = async (mac: string) => {
    const machine = await api(baseUrl, token, 'POST', '/api/v1/machines', { cpus: [], memory_modules: [], accelerators: [], nics: [{ mac }], drives: [] });
    if (machine.status !== 201) throw new Error(`POST /api/v1/machines: ${machine.status} ${JSON.stringify(machine.json)}`);
    const session = await api(baseUrl, token, 'POST', '/api/v1/uploads', { machine_id: machine.json.id, mode: 'create', kernel_args: ['console=ttyS0', 'hostname={{hostname}}'], kernel: declared(kernel), initrd: declared(initrd) });
    if (session.status !== 201) throw new Error(`POST /api/v1/uploads: ${session.status} ${JSON.stringify(session.json)}`);
    const files = session.json.files as Record<'kernel' | 'initrd', { upload: { url: string } | null }>;
    for (const [name, data] of [['kernel', kernel], ['initrd', initrd]] as const) {
      const upload = files[name].upload;
      if (!upload) continue;
      const put = await fetch(upload.url, { method: 'PUT', body: data });
      if (put.status !== 200 && put.status !== 201) throw new Error(`upload of the ${name}: ${put.status}`);
    }
    // Every profile references the same two blobs, so concurrent finalizes contend on their
    // ledger documents; finalizing again is safe (it answers the same profile), so retry.
    for (let attempt = 1; ; attempt++) {
      const finalized = await api(baseUrl, token, 'POST', `/api/v1/uploads/${String(session.json.id)}/finalize`);
      if (finalized.status === 201 || finalized.status === 200) break;
      if (attempt >= 5 || (finalized.status !== 500 && finalized.status !== 503 && finalized.status !== 409)) throw new Error(`finalize: ${finalized.status} ${JSON.stringify(finalized.json)}`);
      await new Promise((ok) => setTimeout(ok, 200 * attempt));
    }
  };
  await one(macs[0] as string);
  let next = 1;
  let registered = 1;
  const started = performance.now();
  // Twelve at a time: enough to keep K instances busy; finalize (concurrency 4 per instance) queues at the balancer.
  await Promise.all(
    Array.from({ length: 12 }, async () => {
      while (next < macs.length) {
        const mac = macs[next++] as string;
        await one(mac);
        if (++registered % 250 === 0) opts.log(`registered ${registered} of ${macs.length} (${((performance.now() - started) / 1000).toFixed(0)} s)`);
      }
    }),
  );
}

/** Power-on offsets, ms: all at once, or uniformly over `overSeconds`. */
function powerOnCurve(count: number, overSeconds: number): number[] {
  return Array.from({ length: count }, (_, i) => (overSeconds <= 0 ? 0 : (i / count) * overSeconds * 1000));
}

export async function runStorm(opts: StormOptions): Promise<StormReport> {
  const loadAtStart = os.loadavg();
  const local = opts.url ? undefined : await startLocal(opts);
  try {
    const baseUrl = opts.url ?? (local as LocalStack).url;
    const token = opts.token ?? (local ? mintLocalToken() : undefined);
    if (!token) throw new Error('--url needs --token (an administrator ID token) to register the machines');
    const macs = macsFor(opts.machines);
    const registerStarted = performance.now();
    opts.log(`registering ${opts.machines} machines at ${baseUrl}`);
    await register(baseUrl, token, macs, opts);
    const registerMs = performance.now() - registerStarted;
    const target: MachineTarget = { baseUrl, ...(opts.caFile ? { ca: readFileSync(opts.caFile, 'utf8') } : {}), timeoutMs: opts.timeoutSeconds * 1000, pauseScale: opts.pauseScale, maxReboots: 2 };
    const addresses = macs.map((_, i) => addressIn(opts.sourceCidr, i));
    const probes = Math.min(opts.refusalProbes, opts.machines);
    // The probes spend their per-MAC budget now, so the storm's boot script is refused (429).
    for (let i = 0; i < probes; i++) {
      for (let n = 0; n < perMacLimit; n++) {
        const res = await fetch(new URL(`/boot.ipxe?mac=${encodeURIComponent(macs[i] as string)}`, baseUrl), { headers: { 'x-forwarded-for': addresses[i] as string } });
        await res.arrayBuffer();
      }
    }
    if (local) {
      await ask(local.emulators, { type: 'firestore-ops', reset: true }, 'firestore-ops');
      await ask(local.balancer, { type: 'stats', reset: true }, 'stats');
    }
    const cpuBefore = local?.instances.map((c) => cpuMsOf(c.pid)) ?? [];
    const emulatorsCpuBefore = local ? cpuMsOf(local.emulators.pid) : 0;
    const loadAtStorm = os.loadavg();
    opts.log(`storm: ${opts.machines} machines ${opts.overSeconds > 0 ? `over ${opts.overSeconds} s` : 'all at once'} (load average ${loadAtStorm.map((l) => l.toFixed(1)).join(' ')})`);
    const offsets = powerOnCurve(opts.machines, opts.overSeconds);
    const stormStart = performance.now();
    let done = 0;
    const outcomes: MachineOutcome[] = await Promise.all(
      macs.map(async (mac, i) => {
        await new Promise((ok) => setTimeout(ok, offsets[i]));
        const outcome = await bootMachine(mac, addresses[i], target, stormStart);
        if (++done % 500 === 0) opts.log(`${done} machines done (${((performance.now() - stormStart) / 1000).toFixed(0)} s)`);
        return outcome;
      }),
    );
    const stormMs = performance.now() - stormStart;
    const firestore = local ? (await ask<{ counts: OperationCounts }>(local.emulators, { type: 'firestore-ops' }, 'firestore-ops')).counts : null;
    const balancer = local ? (await ask<{ stats: BalancerStats }>(local.balancer, { type: 'stats' }, 'stats')).stats : null;
    const instanceCpuMs = local?.instances.map((c, i) => cpuMsOf(c.pid) - (cpuBefore[i] as number)) ?? [];
    return buildReport({
      opts,
      outcomes,
      probes,
      stormMs,
      registerMs,
      firestore,
      balancer,
      instanceCpuMs,
      emulatorsCpuMs: local ? cpuMsOf(local.emulators.pid) - emulatorsCpuBefore : null,
      loadAverage: { atStart: loadAtStart, atStorm: loadAtStorm, atEnd: os.loadavg() },
    });
  } finally {
    await stopAllChildren();
  }
}

function parseArgs(argv: readonly string[]): StormOptions & { json: boolean } {
  const opts = { ...defaultStormOptions, json: false };
  const value = (i: number, flag: string): string => {
    const v = argv[i + 1];
    if (v === undefined) throw new Error(`${flag} needs a value`);
    return v;
  };
  const numeric = (i: number, flag: string): number => {
    const n = Number(value(i, flag));
    if (!Number.isFinite(n) || n < 0) throw new Error(`${flag}: ${argv[i + 1]} is not a non-negative number`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i] as string;
    switch (flag) {
      case '--machines': opts.machines = Math.max(1, Math.floor(numeric(i++, flag))); break;
      case '--instances': opts.instances = Math.max(1, Math.floor(numeric(i++, flag))); break;
      case '--over': opts.overSeconds = numeric(i++, flag); break;
      case '--kernel-bytes': opts.kernelBytes = Math.max(1, Math.floor(numeric(i++, flag))); break;
      case '--initrd-bytes': opts.initrdBytes = Math.max(1, Math.floor(numeric(i++, flag))); break;
      case '--delivery': {
        const d = value(i++, flag);
        if (d !== 'redirect' && d !== 'proxy') throw new Error('--delivery is redirect or proxy');
        opts.delivery = d;
        break;
      }
      case '--source-cidr': opts.sourceCidr = value(i++, flag); break;
      case '--refusal-probes': opts.refusalProbes = Math.floor(numeric(i++, flag)); break;
      case '--timeout': opts.timeoutSeconds = numeric(i++, flag); break;
      case '--pause-scale': opts.pauseScale = numeric(i++, flag); break;
      case '--url': opts.url = value(i++, flag); break;
      case '--token': opts.token = value(i++, flag); break;
      case '--ca': opts.caFile = value(i++, flag); break;
      case '--json': opts.json = true; break;
      default: throw new Error(`unknown option ${flag} (see the comment at the top of bench/storm/run.ts)`);
    }
  }
  addressIn(opts.sourceCidr, opts.machines - 1); // fails now when the CIDR is too small
  return opts;
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  // fetch (registration) reads extra CAs only from NODE_EXTRA_CA_CERTS at start-up; the machines' requests take --ca directly.
  if (opts.caFile && !process.env.NODE_EXTRA_CA_CERTS) opts.log('--ca: registration uses fetch, which trusts the CA only via NODE_EXTRA_CA_CERTS; set it to the same file');
  const report = await runStorm(opts);
  process.stdout.write(opts.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
  if (report.failed > 0) process.exitCode = 1;
}

if (require.main === module) {
  main().catch(async (err: unknown) => {
    process.stderr.write(`storm: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    await stopAllChildren();
    process.exit(1);
  });
}
