// Cold start of each function on the built code: `npm run build`'s compiler output (built
// here into a temporary directory under .cache/, so it resolves node_modules), served by
// functions-framework's own CLI with --target=<fn>, timed from spawn to the first answer.
// The probe is a request the function answers from its own route table (a method its path
// does not take: 405), so neither Firestore nor Storage is called and the figure is the
// process start, the module loading and the first request through the function's steps.
//
// Standalone: `npx tsx bench/coldstart.ts [runs] [builtDir]` prints a row per function.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { build } from '../scripts/build';
import { routes, type HttpMethod } from '../shared/routes';
import { median } from './report';

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

function ask(port: number, method: string, path: string): Promise<number> {
  return new Promise((ok, fail) => {
    const req = request({ host: '127.0.0.1', port, method, path, agent: false }, (res) => {
      res.resume();
      res.on('end', () => ok(res.statusCode ?? 0));
    });
    req.on('error', fail);
    req.end();
  });
}

/** One cold start: spawn functions-framework for `fn`, ask until it answers, stop it. */
async function once(fn: string, builtDir: string, env: NodeJS.ProcessEnv, nodeArgs: readonly string[]): Promise<{ ms: number; status: number }> {
  const port = await freePort();
  const { method, path } = probeOf(fn);
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
        const status = await ask(port, method, path);
        return { ms: performance.now() - started, status };
      } catch {
        await new Promise((ok) => setTimeout(ok, 2));
      }
    }
  } finally {
    const exited = new Promise((ok) => proc.once('exit', ok));
    if (proc.exitCode === null) proc.kill('SIGKILL');
    await exited;
  }
}

/** Every function of the route table, `runs` cold starts each, taken in turn (function by function, round by round). */
export async function coldStarts(builtDir: string, runs: number, env: NodeJS.ProcessEnv = process.env, nodeArgs: readonly string[] = []): Promise<ColdStart[]> {
  const fns = [...new Set(routes.map((r) => r.fn))];
  const results = new Map<string, ColdStart>(fns.map((fn) => [fn, { fn, probe: `${probeOf(fn).method} ${probeOf(fn).path}`, status: 0, runsMs: [], medianMs: NaN }]));
  for (let i = 0; i < runs; i++) {
    for (const fn of fns) {
      const r = await once(fn, builtDir, env, nodeArgs);
      const entry = results.get(fn) as ColdStart;
      entry.runsMs.push(r.ms);
      entry.status = r.status;
    }
  }
  for (const entry of results.values()) entry.medianMs = median(entry.runsMs);
  return [...results.values()];
}

/** The functions the issue holds to the cold-start target. */
export const coldStartTargets: Record<string, number> = { bootScript: 300, assetKernel: 300, assetInitrd: 300 };

if (require.main === module) {
  const runs = Number(process.argv[2] ?? 5);
  const given = process.argv[3];
  const dir = given ? resolve(given) : buildForColdStart();
  coldStarts(dir, runs, { ...process.env, METADATA_SERVER_DETECTION: 'none' })
    .then((rows) => {
      for (const r of rows) process.stdout.write(`${r.fn.padEnd(16)} ${r.medianMs.toFixed(0).padStart(5)} ms  (${r.status} to ${r.probe}; runs ${r.runsMs.map((v) => v.toFixed(0)).join(', ')})\n`);
    })
    .finally(() => {
      if (!given) rmSync(dir, { recursive: true, force: true });
    })
    .catch((err: unknown) => {
      process.stderr.write(`${String(err)}\n`);
      process.exitCode = 1;
    });
}
