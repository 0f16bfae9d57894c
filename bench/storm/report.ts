// The storm's report: from each machine's outcome, the emulator's operation counts, the
// balancer's routing and each instance's CPU.
import type { OperationCounts } from '../../emulators/firestore/operations';
import { percentile } from '../load';
import type { BalancerStats } from './balancer';
import { phases, type MachineOutcome, type Phase } from './machine';
import type { StormOptions } from './run';

export interface StormReport {
  config: Omit<StormOptions, 'log' | 'token'> & { target: string };
  machines: number;
  booted: number;
  failed: number;
  /** From the first power-on, ms; null when fewer machines booted. */
  timeToBootedMs: { p50: number | null; p99: number | null; p100: number | null };
  stormMs: number;
  registerMs: number;
  phases: Record<Phase, { count: number; p50Ms: number | null; p99Ms: number | null }>;
  refusals: { 429: number; 503: number; byBalancer: number | null };
  retries: number;
  reboots: number;
  reportFailures: number;
  probes: { count: number; refusedThenBooted: number };
  /** Bytes per booted machine: through the functions (proxy mode, scripts, reports) and from Storage (redirect mode). */
  bytesPerBoot: { fromFunctions: number; fromStorage: number };
  firestore: (OperationCounts & { readsPerBoot: number; writesPerBoot: number }) | null;
  instances: { cpuMs: number; requests: Record<string, number>; cpuMsPerBootScript: number | null }[];
  /** All instances' CPU over the storm / machines booted, ms. */
  cpuMsPerBoot: number | null;
  emulatorsCpuMs: number | null;
  balancer: Pick<BalancerStats, 'maxQueueMs' | 'queuedRequests'> | null;
  loadAverage: { atStart: number[]; atStorm: number[]; atEnd: number[] };
  firstErrors: string[];
}

export function buildReport(input: {
  opts: StormOptions;
  outcomes: MachineOutcome[];
  probes: number;
  stormMs: number;
  registerMs: number;
  firestore: OperationCounts | null;
  balancer: BalancerStats | null;
  instanceCpuMs: number[];
  emulatorsCpuMs: number | null;
  loadAverage: StormReport['loadAverage'];
}): StormReport {
  const { opts, outcomes } = input;
  const booted = outcomes.filter((o) => o.booted);
  const bootTimes = booted.map((o) => o.bootedAtMs as number).sort((a, b) => a - b);
  // Percentiles of the whole fleet: a time only when that share of all machines booted.
  const fleetTime = (p: number) => (booted.length >= Math.ceil((p / 100) * outcomes.length) ? (bootTimes[Math.max(0, Math.ceil((p / 100) * outcomes.length) - 1)] ?? null) : null);
  const phaseStats = Object.fromEntries(
    phases.map((phase) => {
      const all = outcomes.flatMap((o) => o.latencies[phase] ?? []).sort((a, b) => a - b);
      return [phase, { count: all.length, p50Ms: all.length ? percentile(all, 50) : null, p99Ms: all.length ? percentile(all, 99) : null }];
    }),
  ) as StormReport['phases'];
  const sum = (f: (o: MachineOutcome) => number) => outcomes.reduce((s, o) => s + f(o), 0);
  const perBoot = (n: number) => n / Math.max(1, booted.length);
  const { log: _log, token: _token, ...config } = opts;
  return {
    config: { ...config, target: opts.url ?? `local: ${opts.instances} instance(s) behind the storm's balancer` },
    machines: outcomes.length,
    booted: booted.length,
    failed: outcomes.length - booted.length,
    timeToBootedMs: { p50: fleetTime(50), p99: fleetTime(99), p100: fleetTime(100) },
    stormMs: input.stormMs,
    registerMs: input.registerMs,
    phases: phaseStats,
    refusals: { 429: sum((o) => o.refusals[429]), 503: sum((o) => o.refusals[503]), byBalancer: input.balancer?.refusedNoInstance ?? null },
    retries: sum((o) => o.retries),
    reboots: sum((o) => o.reboots),
    reportFailures: outcomes.filter((o) => o.reportFailed).length,
    probes: { count: input.probes, refusedThenBooted: outcomes.slice(0, input.probes).filter((o) => o.refusedThenBooted).length },
    bytesPerBoot: { fromFunctions: perBoot(sum((o) => o.bytes.fromFunctions)), fromStorage: perBoot(sum((o) => o.bytes.fromStorage)) },
    firestore: input.firestore ? { ...input.firestore, readsPerBoot: perBoot(input.firestore.reads), writesPerBoot: perBoot(input.firestore.writes) } : null,
    instances: input.instanceCpuMs.map((cpuMs, i) => {
      const requests = input.balancer?.perInstance[i] ?? {};
      const scripts = requests.bootScript ?? 0;
      return { cpuMs, requests, cpuMsPerBootScript: scripts > 0 ? cpuMs / scripts : null };
    }),
    cpuMsPerBoot: input.instanceCpuMs.length ? perBoot(input.instanceCpuMs.reduce((a, b) => a + b, 0)) : null,
    emulatorsCpuMs: input.emulatorsCpuMs,
    balancer: input.balancer ? { maxQueueMs: input.balancer.maxQueueMs, queuedRequests: input.balancer.queuedRequests } : null,
    loadAverage: input.loadAverage,
    firstErrors: [...new Set(outcomes.filter((o) => !o.booted && o.lastError).map((o) => o.lastError as string))].slice(0, 5),
  };
}

const s = (ms: number | null) => (ms === null ? 'not reached' : `${(ms / 1000).toFixed(1)} s`);
const ms = (v: number | null) => (v === null ? '-' : `${v.toFixed(0)} ms`);

export function formatReport(r: StormReport): string {
  const lines = [
    `storm: ${r.machines} machines (${r.config.overSeconds > 0 ? `powered on over ${r.config.overSeconds} s` : 'all at once'}), ${r.config.target}, ${r.config.delivery} mode, kernel ${r.config.kernelBytes} B, initrd ${r.config.initrdBytes} B`,
    `booted ${r.booted}, failed ${r.failed}; 50 % booted at ${s(r.timeToBootedMs.p50)}, 99 % at ${s(r.timeToBootedMs.p99)}, 100 % at ${s(r.timeToBootedMs.p100)} (storm ${s(r.stormMs)}; registration ${s(r.registerMs)})`,
    ...phases.map((p) => `  ${p.padEnd(7)} ${String(r.phases[p].count).padStart(6)} ok   p50 ${ms(r.phases[p].p50Ms).padStart(8)}   p99 ${ms(r.phases[p].p99Ms).padStart(8)}`),
    `refusals: 429 ${r.refusals[429]}, 503 ${r.refusals[503]} (balancer, no instance in time: ${r.refusals.byBalancer ?? '-'}); retries ${r.retries}; reboots ${r.reboots}; booting reports failed ${r.reportFailures}`,
    `refusal probes (per-MAC budget spent before the storm): ${r.probes.refusedThenBooted} of ${r.probes.count} refused, then booted after Retry-After`,
    `bytes per boot: ${r.bytesPerBoot.fromFunctions.toFixed(0)} from the functions, ${r.bytesPerBoot.fromStorage.toFixed(0)} from Storage`,
  ];
  if (r.firestore) {
    const b = r.firestore.busiest;
    lines.push(`firestore: ${r.firestore.readsPerBoot.toFixed(2)} reads and ${r.firestore.writesPerBoot.toFixed(2)} writes per boot (${r.firestore.reads} / ${r.firestore.writes}; ${r.firestore.rpcs} RPCs)`);
    lines.push(`busiest document: ${b ? `${b.peakWritesPerSecond.toFixed(2)} writes/s over its busiest ${b.windowSeconds} s (${b.writes} writes): ${b.document}` : 'none written'}`);
    for (const t of r.firestore.top.slice(1)) lines.push(`  next: ${t.peakWritesPerSecond.toFixed(2)} writes/s (${t.writes}): ${t.document}`);
  }
  r.instances.forEach((inst, i) => lines.push(`instance ${i + 1}: ${inst.cpuMs.toFixed(0)} ms CPU; ${Object.entries(inst.requests).map(([fn, n]) => `${fn} ${n}`).join(', ')}; ${inst.cpuMsPerBootScript === null ? '-' : inst.cpuMsPerBootScript.toFixed(1)} ms CPU per boot script (all of a boot's requests on it / its boot scripts)`));
  if (r.cpuMsPerBoot !== null) lines.push(`instances' CPU per boot: ${r.cpuMsPerBoot.toFixed(1)} ms; emulators ${r.emulatorsCpuMs?.toFixed(0)} ms in all; balancer queue: ${r.balancer?.queuedRequests} requests waited, longest ${r.balancer?.maxQueueMs.toFixed(0)} ms`);
  lines.push(`load average (1/5/15 min): start ${r.loadAverage.atStart.map((l) => l.toFixed(1)).join(' ')}, storm ${r.loadAverage.atStorm.map((l) => l.toFixed(1)).join(' ')}, end ${r.loadAverage.atEnd.map((l) => l.toFixed(1)).join(' ')}`);
  for (const e of r.firstErrors) lines.push(`failure: ${e}`);
  return `${lines.join('\n')}\n`;
}
