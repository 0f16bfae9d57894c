// Child processes of the benchmark (emulators, gateway) and what /proc says about them.
import { spawn, type ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';

const repoRoot = resolve(__dirname, '..');
const children = new Set<ChildProcess>();

/** Messages the bench children send over IPC once they are listening. */
export type ReadyMessage = { type: 'ready'; firestoreHost: string; storageHost: string } | { type: 'ready'; url: string } | { type: 'ready'; cli: true };

/**
 * The child side for an HTTP server: listens on loopback, reports `{ type: 'ready', url }`, and
 * stops on SIGTERM, SIGINT or when the parent goes (its IPC channel closes).
 */
export function serveAsChild(server: Server): void {
  const stop = () => {
    server.closeAllConnections();
    server.close(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.on('disconnect', stop);
  server.listen(0, '127.0.0.1', () => {
    process.send?.({ type: 'ready', url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
  });
}

export interface Child {
  proc: ChildProcess;
  pid: number;
  ready: ReadyMessage;
  stop(): Promise<void>;
}

/**
 * Runs `file` (TypeScript, via tsx's loader) in its own node process, so that its pid is
 * the process that does the work (the `tsx` CLI would put a wrapper process in between).
 * Resolves once the child reports `ready` over IPC.
 */
export async function startChild(
  file: string,
  env: NodeJS.ProcessEnv,
  stdout: number | 'ignore' | 'inherit' | 'pipe' = 'ignore',
  nodeArgs: readonly string[] = [],
  timeoutMs = 60_000,
  stderr: 'inherit' | 'pipe' = 'inherit',
): Promise<Child> {
  // BENCH_CHILD_NODE_ARGS: node flags for every child, to look inside one run (e.g. `--cpu-prof --cpu-prof-dir=DIR`, `--perf-basic-prof-only-functions` for perf).
  const proc = spawn(process.execPath, [...(process.env.BENCH_CHILD_NODE_ARGS?.split(' ').filter(Boolean) ?? []), ...nodeArgs, '--import', 'tsx', resolve(__dirname, file)], {
    cwd: repoRoot,
    env,
    stdio: ['ignore', stdout, stderr, 'ipc'],
  });
  children.add(proc);
  proc.once('exit', () => children.delete(proc));
  const ready = await new Promise<ReadyMessage>((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`${file} did not become ready in ${timeoutMs} ms`)), timeoutMs);
    proc.once('message', (msg: ReadyMessage) => {
      clearTimeout(timer);
      ok(msg);
    });
    proc.once('exit', (code, signal) => {
      clearTimeout(timer);
      fail(new Error(`${file} exited before it was ready (code ${code}, signal ${signal})`));
    });
  }).catch(async (err: unknown) => {
    await stopProcess(proc);
    throw err;
  });
  if (proc.pid === undefined) throw new Error(`${file}: no pid`);
  return { proc, pid: proc.pid, ready, stop: () => stopProcess(proc) };
}

/** SIGTERM (the children stop their servers and exit), SIGKILL after 10 s. */
export async function stopProcess(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise<void>((ok) => proc.once('exit', () => ok()));
  proc.kill('SIGTERM');
  const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

export async function stopAllChildren(): Promise<void> {
  await Promise.all([...children].map((c) => stopProcess(c)));
}

/** Last resort on process exit (synchronous): nothing we started outlives us. */
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

/** Resident set size of a process, in bytes (VmRSS). */
export function rssOf(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

/** Peak RSS since start or since the last resetPeakRss (VmHWM), in bytes. */
export function peakRssOf(pid: number): number {
  const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

/** Resets VmHWM to the current RSS (Linux >= 4.0, own processes); false when not allowed. */
export function resetPeakRss(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

let clockTicks: number | undefined;
function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/** User + system CPU time a process has used, in ms. */
export function cpuMsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // After "pid (comm) ": state is field 3, utime 14, stime 15.
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / ticksPerSecond();
}

/** Busy CPU time of the whole machine (all cores), in ms, from /proc/stat. */
export function machineBusyMs(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
  // cpu user nice system idle iowait irq softirq steal guest guest_nice
  const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
  return (((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0)) * 1000) / ticksPerSecond();
}

/**
 * CPU use of several processes (and this one) over a stretch of wall time, and of
 * everything else on the machine (`other`: processes this benchmark did not start).
 */
export class CpuMeter {
  private readonly startWall = performance.now();
  private readonly startSelf = process.cpuUsage();
  private readonly startMachine = machineBusyMs();
  private readonly startOthers: Map<string, { pid: number; ms: number }>;

  constructor(others: Record<string, number>) {
    this.startOthers = new Map(Object.entries(others).map(([name, pid]) => [name, { pid, ms: cpuMsOf(pid) }]));
  }

  /** Percent of one core, per process; `client` is this process. */
  read(): Record<string, number> {
    const wall = performance.now() - this.startWall;
    const self = process.cpuUsage(this.startSelf);
    const out: Record<string, number> = { client: ((self.user + self.system) / 1000 / wall) * 100 };
    for (const [name, { pid, ms }] of this.startOthers) out[name] = ((cpuMsOf(pid) - ms) / wall) * 100;
    const ours = Object.values(out).reduce((a, b) => a + b, 0);
    out.other = Math.max(0, ((machineBusyMs() - this.startMachine) / wall) * 100 - ours);
    return out;
  }
}

/** Samples a process's VmRSS every `everyMs` until stopped; the peak also comes from VmHWM. */
export class RssSampler {
  private readonly samples: number[] = [];
  private readonly timer: NodeJS.Timeout;
  readonly baseline: number;
  private readonly hwmReset: boolean;

  constructor(
    private readonly pid: number,
    everyMs = 20,
  ) {
    this.baseline = rssOf(pid);
    this.hwmReset = resetPeakRss(pid);
    this.timer = setInterval(() => this.samples.push(rssOf(pid)), everyMs);
  }

  stop(): { baseline: number; peakSampled: number; peakHwm: number | null; end: number; samples: number } {
    clearInterval(this.timer);
    const end = rssOf(this.pid);
    this.samples.push(end);
    return {
      baseline: this.baseline,
      peakSampled: Math.max(this.baseline, ...this.samples),
      peakHwm: this.hwmReset ? peakRssOf(this.pid) : null,
      end,
      samples: this.samples.length,
    };
  }
}
