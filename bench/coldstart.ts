// Cold start of each function on the built code: `npm run build`'s output (scripts/build.ts,
// built here into a temporary directory under .cache/, so it resolves node_modules), served
// by functions-framework's own CLI with --target=<fn>, timed from spawn to the first answer.
//
// Two figures:
// - every function, spawn -> first answer to a request it answers from its own route table
//   (a method its path does not take: 405): no Firestore or Storage call, so the figure is
//   the process start, the module loading and the first request through the request steps.
//   The issue's 300 ms target (bootScript, assetKernel, assetInitrd) is on this figure.
// - bootScript, spawn -> the first real 200 boot script of a registered machine with a
//   profile, against the emulators: what a machine's first boot on a cold instance waits
//   for (Firestore's client loaded and its first gRPC calls included).
//
// Standalone: `npx tsx bench/coldstart.ts [runs] [builtDir]` starts the embedded emulators,
// registers machines, prints both figures (`npm run bench` runs the same, bench/run.ts);
// `npx tsx bench/coldstart.ts profile [builtDir]`: bootScript's start-up under --cpu-prof.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import { loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { build } from '../scripts/build';
import { createClients } from '../shared/clients';
import { loadConfig } from '../shared/config';
import { routes, type HttpMethod } from '../shared/routes';
import { createBootFleet, writeBlob } from './fixtures';
import { cpuMsOf, startChild, stopAllChildren } from './proc';
import { median, table, type Row } from './report';

const repoRoot = resolve(__dirname, '..');
// The CLI the package's `bin` names (functions-framework), next to its exported main module.
const frameworkMain = join(dirname(require.resolve('@google-cloud/functions-framework')), 'main.js');
const allMethods: readonly HttpMethod[] = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];

export interface ColdStart {
  fn: string;
  probe: string;
  status: number;
  /** Spawn to the first answer, each run. */
  runsMs: number[];
  medianMs: number;
  /**
   * CPU time (user + system, all threads) the instance used up to that answer, each run: what
   * the wall time comes down to on an idle machine (a busy one makes the process wait for a core).
   */
  cpuRunsMs: number[];
  medianCpuMs: number;
}

/** Compiles functions/index.ts and what it reaches into a fresh directory under .cache/. */
export function buildForColdStart(): string {
  mkdirSync(join(repoRoot, '.cache'), { recursive: true });
  const dir = mkdtempSync(join(repoRoot, '.cache', 'bench-build-'));
  build(repoRoot, dir);
  return dir;
}

/** A route of `fn` and a method its path does not take (405 from the function's own routing). */
function probeOf(fn: string): { method: HttpMethod; path: string } {
  const own = routes.filter((r) => r.fn === fn);
  const path = (own[0]?.path ?? '/').replace(/\{[^}]+\}/g, '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b');
  const taken = new Set(routes.filter((r) => r.path === own[0]?.path).flatMap((r) => r.methods as readonly HttpMethod[]));
  const method = allMethods.find((m) => !taken.has(m)) ?? 'PATCH';
  return { method, path };
}

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((ok) => srv.listen(0, '127.0.0.1', ok));
  const { port } = srv.address() as AddressInfo;
  await new Promise<void>((ok) => srv.close(() => ok()));
  return port;
}

function ask(port: number, method: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((ok, fail) => {
    const req = request({ host: '127.0.0.1', port, method, path, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => ok({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', fail);
    req.end();
  });
}

/** One cold start: spawn functions-framework for `fn`, ask until it answers (any connection error: not listening yet), stop it. */
async function once(
  fn: string,
  builtDir: string,
  env: NodeJS.ProcessEnv,
  nodeArgs: readonly string[],
  probe: { method: string; path: string },
  stop: 'SIGKILL' | 'SIGTERM' = 'SIGKILL',
): Promise<{ ms: number; cpuMs: number; status: number; body: string }> {
  const port = await freePort();
  const started = performance.now();
  const proc = spawn(process.execPath, [...nodeArgs, frameworkMain, `--target=${fn}`, `--source=${join(builtDir, 'functions', 'index.js')}`, `--port=${port}`], {
    cwd: repoRoot,
    env: { ...env, LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  proc.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  try {
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`${fn} exited (${proc.exitCode}) before answering: ${stderr.slice(-500)}`);
      if (performance.now() - started > 30_000) throw new Error(`${fn} did not answer in 30 s: ${stderr.slice(-500)}`);
      try {
        const answer = await ask(port, probe.method, probe.path);
        const ms = performance.now() - started;
        return { ms, cpuMs: cpuMsOf(proc.pid as number), ...answer };
      } catch {
        await new Promise((ok) => setTimeout(ok, 2));
      }
    }
  } finally {
    const exited = new Promise((ok) => proc.once('exit', ok));
    // SIGTERM: functions-framework exits on its own, so --cpu-prof writes its profile.
    if (proc.exitCode === null) proc.kill(stop);
    await exited;
  }
}

/** The functions of the route table, `runs` cold starts each, taken in turn (function by function, round by round). */
export async function coldStarts(
  builtDir: string,
  runs: number,
  env: NodeJS.ProcessEnv = process.env,
  nodeArgs: readonly string[] = [],
  fns: readonly string[] = [...new Set(routes.map((r) => r.fn))],
): Promise<ColdStart[]> {
  const results = new Map<string, ColdStart>(fns.map((fn) => [fn, { fn, probe: `${probeOf(fn).method} ${probeOf(fn).path}`, status: 0, runsMs: [], medianMs: NaN, cpuRunsMs: [], medianCpuMs: NaN }]));
  for (let i = 0; i < runs; i++) {
    for (const fn of fns) {
      const r = await once(fn, builtDir, env, nodeArgs, probeOf(fn));
      const entry = results.get(fn) as ColdStart;
      entry.runsMs.push(r.ms);
      entry.cpuRunsMs.push(r.cpuMs);
      entry.status = r.status;
    }
  }
  for (const entry of results.values()) Object.assign(entry, { medianMs: median(entry.runsMs), medianCpuMs: median(entry.cpuRunsMs) });
  return [...results.values()];
}

/** Node itself: spawn of `node -e ""` to its exit, the part of every figure below that is the machine's. */
export async function bareNode(runs: number): Promise<{ runsMs: number[]; medianMs: number }> {
  const runsMs: number[] = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    const proc = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
    await new Promise((ok) => proc.once('exit', ok));
    runsMs.push(performance.now() - started);
  }
  return { runsMs, medianMs: median(runsMs) };
}

/**
 * The floor no code of ours can go under: functions-framework's CLI serving a function that
 * answers 405 at once (written next to the built code, so it resolves the same node_modules).
 */
export async function frameworkFloor(builtDir: string, runs: number, env: NodeJS.ProcessEnv): Promise<ColdStart> {
  const dir = join(builtDir, 'floor', 'functions');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'index.js'), "require('@google-cloud/functions-framework').http('floor', (req, res) => res.status(405).end());\n");
  const entry: ColdStart = { fn: 'floor', probe: 'POST /', status: 0, runsMs: [], medianMs: NaN, cpuRunsMs: [], medianCpuMs: NaN };
  for (let i = 0; i < runs; i++) {
    const r = await once('floor', join(builtDir, 'floor'), env, [], { method: 'POST', path: '/' });
    entry.runsMs.push(r.ms);
    entry.cpuRunsMs.push(r.cpuMs);
    entry.status = r.status;
  }
  return Object.assign(entry, { medianMs: median(entry.runsMs), medianCpuMs: median(entry.cpuRunsMs) });
}

export interface FirstBoot {
  /** Spawn to the complete 200 boot script, each run (one machine each: no rate limit in the way). */
  runsMs: number[];
  medianMs: number;
  cpuRunsMs: number[];
  medianCpuMs: number;
}

/**
 * bootScript's cold start to its first real answer: for each MAC (a registered machine
 * with a profile, in the emulators `env` points at), a fresh instance asked
 * `GET /boot.ipxe?mac=...` until it answers; that answer must be the 200 script.
 */
export async function firstBootScripts(builtDir: string, macs: readonly string[], env: NodeJS.ProcessEnv, nodeArgs: readonly string[] = []): Promise<FirstBoot> {
  const runsMs: number[] = [];
  const cpuRunsMs: number[] = [];
  for (const mac of macs) {
    const r = await once('bootScript', builtDir, env, nodeArgs, { method: 'GET', path: `/boot.ipxe?mac=${encodeURIComponent(mac)}` });
    if (r.status !== 200 || !r.body.startsWith('#!ipxe')) throw new Error(`first boot script of ${mac}: ${r.status} ${r.body.slice(0, 300)}`);
    runsMs.push(r.ms);
    cpuRunsMs.push(r.cpuMs);
  }
  return { runsMs, medianMs: median(runsMs), cpuRunsMs, medianCpuMs: median(cpuRunsMs) };
}

/** The functions the issue holds to the cold-start target (spawn -> first answer, the 405 probe). */
export const coldStartTargets: Record<string, number> = { bootScript: 300, assetKernel: 300, assetInitrd: 300 };

/** Both measurements against emulators already running (`env` names them): what `npm run bench` reports. */
export async function coldStartReport(
  builtDir: string,
  runs: number,
  env: NodeJS.ProcessEnv,
  fleet: (count: number) => Promise<readonly string[]>,
): Promise<{ runs: number; node: { runsMs: number[]; medianMs: number }; floor: ColdStart; functions: ColdStart[]; firstBootScript: FirstBoot }> {
  const node = await bareNode(runs);
  const floor = await frameworkFloor(builtDir, runs, env);
  const functions = await coldStarts(builtDir, runs, env);
  const firstBootScript = await firstBootScripts(builtDir, await fleet(runs), env);
  return { runs, node, floor, functions, firstBootScript };
}

export type ColdStartReport = Awaited<ReturnType<typeof coldStartReport>>;

/** The bench's table: a row per function (wall and CPU), the framework's floor, bootScript's first real boot. */
export function coldStartTable(section: string, report: ColdStartReport): string {
  const fmt = (v: number) => `${v.toFixed(0)} ms`;
  const cell = (r: { medianMs: number; medianCpuMs: number; runsMs: number[] }) => `${fmt(r.medianMs)} (CPU ${fmt(r.medianCpuMs)}; runs ${r.runsMs.map((v) => v.toFixed(0)).join(', ')})`;
  const rows: Row[] = [
    { name: 'node -e "" (spawn to exit)', value: `${fmt(report.node.medianMs)} (runs ${report.node.runsMs.map((v) => v.toFixed(0)).join(', ')})` },
    { name: 'floor: functions-framework, a function of no code (405)', value: cell(report.floor) },
    ...report.functions.map((r) => {
      const target = coldStartTargets[r.fn];
      return { name: `${r.fn} (${r.status})`, value: cell(r), ...(target === undefined ? {} : { target: `<= ${target} ms`, met: r.medianMs <= target }) };
    }),
    { name: 'bootScript: spawn -> first real 200 boot script', value: `${cell(report.firstBootScript)} (no target)` },
  ];
  return table(
    `${section}. Cold start per function, built code (scripts/build.ts): functions-framework's CLI spawned -> first answer to a request needing no I/O (405), median of ${report.runs} (CPU: the instance's user+system time to that answer); bootScript also to its first real 200 (Firestore emulator)`,
    rows,
  );
}

export function coldStartRows(report: ColdStartReport): string[] {
  const fmt = (v: number) => `${v.toFixed(0)} ms`;
  const line = (name: string, r: { medianMs: number; medianCpuMs: number; runsMs: number[] }, note: string) =>
    `${name.padEnd(22)} ${fmt(r.medianMs).padStart(8)}  CPU ${fmt(r.medianCpuMs).padStart(7)}  (runs ${r.runsMs.map((v) => v.toFixed(0)).join(', ')})${note}`;
  return [
    `${'node -e ""'.padEnd(22)} ${fmt(report.node.medianMs).padStart(8)}  (runs ${report.node.runsMs.map((v) => v.toFixed(0)).join(', ')})`,
    line('floor (no code)', report.floor, ''),
    ...report.functions.map((r) => {
      const target = coldStartTargets[r.fn];
      return line(r.fn, r, `  ${r.status} to ${r.probe}${target === undefined ? '' : `  [target <= ${target} ms: ${r.medianMs <= target ? 'met' : 'NOT met'}]`}`);
    }),
    line('bootScript first 200', report.firstBootScript, '  (spawn -> first real boot script, Firestore emulator)'),
  ];
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Who a profile's sample belongs to: a package under node_modules, our built file, Node's internals, or V8's own (garbage collector, ...). */
function ownerOf(url: string, functionName: string): string {
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1] as string;
  if (url.startsWith('node:')) return 'node: internals (module loader, ...)';
  const ours = /\/((?:shared|functions)\/.+)$/.exec(url);
  return ours ? (ours[1] as string) : url;
}

export interface StartupProfile {
  /** The process's CPU samples that were not idle, spawn to exit. */
  busyMs: number;
  byOwner: { owner: string; ms: number }[];
  topFunctions: { name: string; ms: number }[];
  /** Inclusive require time of each package our code loads (first load; later ones are cache hits). */
  requireMs: { module: string; ms: number }[];
}

/** Records the inclusive require time of each package our code (or the framework's loader) asks for first: a preload (-r). */
const requireTimer = `
const Module = require('module');
const load = Module._load;
const times = new Map();
Module._load = function (request, parent) {
  const from = (parent && parent.filename) || '';
  const ours = !from.includes('/node_modules/') || from.includes('/functions-framework/build/src/loader');
  const started = process.hrtime.bigint();
  try { return load.apply(this, arguments); } finally {
    const pkg = !request.startsWith('.') && !request.startsWith('/') && !Module.isBuiltin(request);
    if (ours && pkg && !times.has(request)) times.set(request, Number(process.hrtime.bigint() - started) / 1e6);
  }
};
process.on('exit', () => require('fs').writeFileSync(process.env.REQUIRE_TIMES_FILE, JSON.stringify([...times])));
`;

/**
 * One cold start of `fn` under \`node --cpu-prof\` (and the require timer), to \`probe\`'s answer,
 * then SIGTERM: where the start-up's CPU goes, by owner and by function.
 */
export async function profileColdStart(builtDir: string, fn: string, env: NodeJS.ProcessEnv, probe: { method: string; path: string }, outDir: string, top = 12): Promise<StartupProfile & { ms: number; status: number }> {
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  const timer = join(outDir, 'require-timer.cjs');
  const timesFile = join(outDir, 'require-times.json');
  writeFileSync(timer, requireTimer);
  const answer = await once(fn, builtDir, { ...env, REQUIRE_TIMES_FILE: timesFile }, ['--cpu-prof', `--cpu-prof-dir=${outDir}`, '-r', timer], probe, 'SIGTERM');
  const file = readdirSync(outDir).find((f) => f.endsWith('.cpuprofile'));
  if (!file) throw new Error(`no CPU profile in ${outDir}`);
  const profile = JSON.parse(readFileSync(join(outDir, file), 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const owners = new Map<string, number>();
  const functions = new Map<string, number>();
  let busyUs = 0;
  profile.samples.forEach((id, i) => {
    const node = byId.get(id);
    const us = profile.timeDeltas[i] ?? 0;
    if (!node || node.callFrame.functionName === '(idle)' || node.callFrame.functionName === '(program)') return;
    const { functionName, url, lineNumber } = node.callFrame;
    const owner = ownerOf(url, functionName);
    busyUs += us;
    owners.set(owner, (owners.get(owner) ?? 0) + us);
    const name = url ? `${functionName || '(top level)'} ${owner}:${lineNumber + 1}` : functionName;
    functions.set(name, (functions.get(name) ?? 0) + us);
  });
  const rank = (m: Map<string, number>) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, us]) => ({ name, ms: us / 1000 }));
  const requireMs = (JSON.parse(readFileSync(timesFile, 'utf8')) as [string, number][]).map(([module, ms]) => ({ module, ms })).sort((a, b) => b.ms - a.ms);
  return { ...answer, busyMs: busyUs / 1000, byOwner: rank(owners).map(({ name, ms }) => ({ owner: name, ms })), topFunctions: rank(functions), requireMs };
}

const loadAverage = () => loadavg().map((v) => v.toFixed(2)).join(' ');

/** The built code (given, or built now), the embedded emulators and a fleet maker, for the standalone modes. */
async function withStack(given: string | undefined, work: (dir: string, env: NodeJS.ProcessEnv, fleet: (count: number) => Promise<string[]>) => Promise<void>): Promise<void> {
  const dir = given ? resolve(given) : buildForColdStart();
  const suffix = randomBytes(4).toString('hex');
  // In this process's environment too: the Storage client reads STORAGE_EMULATOR_HOST from there.
  const env = Object.assign(process.env, { GOOGLE_CLOUD_PROJECT: `demo-coldstart-${suffix}`, BLOB_BUCKET: `demo-coldstart-${suffix}-blobs`, METADATA_SERVER_DETECTION: 'none' });
  const emulators = await startChild('emulators.ts', { ...env });
  try {
    if (!('firestoreHost' in emulators.ready)) throw new Error('emulators child sent no hosts');
    Object.assign(env, { FIRESTORE_EMULATOR_HOST: emulators.ready.firestoreHost, STORAGE_EMULATOR_HOST: emulators.ready.storageHost });
    const clients = createClients(loadConfig(env));
    try {
      const kernel = await writeBlob(clients, randomBytes(4096));
      const initrd = await writeBlob(clients, randomBytes(4096));
      await work(dir, env, (count) => createBootFleet(clients, count, { kernel: { ...kernel, args: ['console=ttyS0'] }, initrd }));
    } finally {
      await clients.close();
    }
  } finally {
    await stopAllChildren();
    if (!given) rmSync(dir, { recursive: true, force: true });
  }
}

/** `profile`: bootScript's start-up to the 405, and to its first real boot script, under --cpu-prof. */
async function profiles(dir: string, env: NodeJS.ProcessEnv, fleet: (count: number) => Promise<string[]>): Promise<void> {
  const [mac] = await fleet(1);
  const cases = [
    { label: 'bootScript, spawn -> first answer (405, no I/O)', fn: 'bootScript', probe: probeOf('bootScript') },
    { label: 'bootScript, spawn -> first real 200 boot script', fn: 'bootScript', probe: { method: 'GET', path: `/boot.ipxe?mac=${encodeURIComponent(mac as string)}` } },
  ];
  for (const [i, c] of cases.entries()) {
    const p = await profileColdStart(dir, c.fn, env, c.probe, join(repoRoot, '.cache', `coldstart-profile-${i}`));
    const out = (line: string) => process.stdout.write(`${line}\n`);
    out(`\n${c.label}: ${p.status} after ${p.ms.toFixed(0)} ms; CPU busy ${p.busyMs.toFixed(0)} ms (spawn to exit, profiled)`);
    out('  self time by owner:');
    for (const o of p.byOwner) out(`    ${o.ms.toFixed(1).padStart(7)} ms  ${o.owner}`);
    out('  top functions by self time:');
    for (const f of p.topFunctions) out(`    ${f.ms.toFixed(1).padStart(7)} ms  ${f.name}`);
    out('  require time of the packages loaded (inclusive, first load):');
    for (const r of p.requireMs) out(`    ${r.ms.toFixed(1).padStart(7)} ms  ${r.module}`);
  }
}

if (require.main === module) {
  const [first, second] = process.argv.slice(2);
  process.stdout.write(`load average before: ${loadAverage()}\n`);
  const work =
    first === 'profile'
      ? withStack(second, profiles)
      : withStack(second, async (dir, env, fleet) => {
          const report = await coldStartReport(dir, Number(first ?? 5), env, fleet);
          for (const line of coldStartRows(report)) process.stdout.write(`${line}\n`);
        });
  work
    .then(() => process.stdout.write(`load average after: ${loadAverage()}\n`))
    .catch((err: unknown) => {
      process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exitCode = 1;
    });
}
