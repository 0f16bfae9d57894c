// `npx tsx bench/storm/model.ts [--from REPORT.json] [--kernel-mib 10] [--initrd-mib 100]
//  [--peak-factor 2] [--price-... ]`: the boot-storm model for real fleets (issue 24, section 2).
// From the measured costs of one boot (Firestore reads and writes, the instances' CPU and the
// requests it makes: a `npm run storm -- --json` report, or the defaults below from the run
// quoted in BENCHMARKS.md), for 1,000 / 10,000 / 100,000 machines powering on over 5 / 15 / 60
// minutes: instances, Firestore operations per second against its documented limits, Storage
// and function egress, and dollars per storm at list prices. Prints Markdown (the table in
// BENCHMARKS.md is this output), then the limits that would be crossed and what avoids them.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { StormReport } from './report';

/** Per boot, as measured on the local stack (overridden by --from). */
export interface BootCosts {
  readsPerBoot: number;
  writesPerBoot: number;
  /** The functions' CPU for one boot (script, kernel, initrd, report), ms. */
  cpuMsPerBoot: number;
  /** Requests a boot makes to the functions (script, kernel, initrd part(s), report). */
  requestsPerBoot: number;
  /** Function CPU per MiB streamed in proxy mode (BENCHMARKS.md, 10:09 run: 7.06 ms). */
  proxyCpuMsPerMiB: number;
  source: string;
}

/** List prices, USD. Sources: cited in BENCHMARKS.md next to the table and below. */
export interface Prices {
  /** Cloud Run (functions gen2), Tier 1, CPU allocated only during requests: per vCPU-second. */
  vcpuSecond: number;
  /** ... per GiB-second. */
  gibSecond: number;
  /** ... per million requests. */
  perMillionRequests: number;
  /** Firestore, a US region (us-central1 etc.): per 100,000 document reads / writes. */
  per100kReads: number;
  per100kWrites: number;
  /** Internet egress, premium tier, 0-1 TiB (Cloud Storage and Cloud Run alike): per GiB. */
  egressPerGiB: number;
  /** Cloud Storage Standard, Class B (GET object): per 1,000 operations. */
  classBPer1000: number;
}

export const listPrices: Prices = { vcpuSecond: 0.000024, gibSecond: 0.0000025, perMillionRequests: 0.4, per100kReads: 0.03, per100kWrites: 0.09, egressPerGiB: 0.12, classBPer1000: 0.0004 };

/** What Terraform deploys (terraform/functions.json) and the platform's documented limits. */
export const deployment = {
  bootScript: { concurrency: 40, maxInstances: 20, memoryGiB: 0.25 },
  assets: { concurrency: 20, maxInstances: 20, memoryGiB: 0.5 },
  /** Cloud Run scales out to keep instances near 60 % CPU. */
  targetCpuUtilisation: 0.6,
  /** RATE_LIMIT_BOOT_GLOBAL (per minute) and its shards (shared/ratelimit/policy.ts shardsFor: ceil(limit / 30), at most 100). */
  bootGlobalPerMinute: 30_000,
  bootGlobalShards: 100,
  /** Firestore: about one sustained write per second per document; 500 operations per second to start a new collection, +50 % every 5 minutes (the 500/50/5 rule); 10,000 writes per second per database. */
  documentWritesPerSecond: 1,
  rampStartOpsPerSecond: 500,
  databaseWritesPerSecond: 10_000,
};

export interface ModelAssumptions {
  kernelMiB: number;
  initrdMiB: number;
  /** Peak arrival rate / mean (power-on is not uniform: racks come back together). */
  peakFactor: number;
  /** Time a boot script takes in production (Firestore round trips), s, for Little's law. */
  scriptSeconds: number;
  /** A machine's download rate in proxy mode, MiB/s (what one function instance streams to one machine). */
  machineMiBps: number;
}

export const defaultAssumptions: ModelAssumptions = { kernelMiB: 10, initrdMiB: 100, peakFactor: 2, scriptSeconds: 0.05, machineMiBps: 25 };

export interface Row {
  machines: number;
  minutes: number;
  peakBootsPerSecond: number;
  instancesRedirect: number;
  instancesProxy: number;
  firestoreReadsPerSecond: number;
  firestoreWritesPerSecond: number;
  globalShardWritesPerSecond: number;
  egressGiB: number;
  dollarsRedirect: number;
  dollarsProxy: number;
  crossed: string[];
}

export function model(machines: number, minutes: number, costs: BootCosts, a: ModelAssumptions = defaultAssumptions, p: Prices = listPrices): Row {
  const seconds = minutes * 60;
  const peak = (machines / seconds) * a.peakFactor;
  const bytesMiB = a.kernelMiB + a.initrdMiB;
  // Instances: the larger of CPU (at the utilisation Cloud Run scales to) and concurrency (Little's law).
  const cpuInstances = (peak * costs.cpuMsPerBoot) / 1000 / deployment.targetCpuUtilisation;
  const scriptSlots = (peak * a.scriptSeconds) / deployment.bootScript.concurrency;
  const instancesRedirect = Math.max(1, Math.ceil(Math.max(cpuInstances, scriptSlots)));
  const downloadSeconds = bytesMiB / a.machineMiBps;
  const proxyCpuInstances = (peak * bytesMiB * costs.proxyCpuMsPerMiB) / 1000 / deployment.targetCpuUtilisation;
  const downloadInstances = (peak * downloadSeconds) / deployment.assets.concurrency;
  const instancesProxy = Math.max(1, Math.ceil(Math.max(cpuInstances + proxyCpuInstances, scriptSlots + downloadInstances)));
  const reads = peak * costs.readsPerBoot;
  const writes = peak * costs.writesPerBoot;
  // Every request increments one random shard of the global counter (one write per batch at most).
  const requestsPerSecond = peak * costs.requestsPerBoot;
  const globalShardWrites = requestsPerSecond / deployment.bootGlobalShards;
  const egressGiB = (machines * bytesMiB) / 1024;
  // Billed instance time (request-based billing): CPU seconds at the scaling target, or the time downloads hold slots.
  const cpuSeconds = (machines * costs.cpuMsPerBoot) / 1000;
  const billedRedirect = cpuSeconds / deployment.targetCpuUtilisation;
  const billedProxy = Math.max((cpuSeconds + (machines * bytesMiB * costs.proxyCpuMsPerMiB) / 1000) / deployment.targetCpuUtilisation, (machines * downloadSeconds) / deployment.assets.concurrency + billedRedirect);
  const firestoreDollars = ((machines * costs.readsPerBoot) / 1e5) * p.per100kReads + ((machines * costs.writesPerBoot) / 1e5) * p.per100kWrites;
  const requestDollars = ((machines * costs.requestsPerBoot) / 1e6) * p.perMillionRequests;
  const dollarsRedirect = billedRedirect * (p.vcpuSecond + deployment.bootScript.memoryGiB * p.gibSecond) + requestDollars + firestoreDollars + egressGiB * p.egressPerGiB + ((machines * 2) / 1000) * p.classBPer1000;
  const dollarsProxy = billedProxy * (p.vcpuSecond + deployment.assets.memoryGiB * p.gibSecond) + requestDollars + firestoreDollars + egressGiB * p.egressPerGiB + ((machines * 2) / 1000) * p.classBPer1000;
  const crossed: string[] = [];
  if (requestsPerSecond * 60 > deployment.bootGlobalPerMinute) crossed.push(`RATE_LIMIT_BOOT_GLOBAL (${deployment.bootGlobalPerMinute}/min): ${Math.ceil(requestsPerSecond * 60)} requests/min at peak would be refused (429); raise it to >= ${Math.ceil((requestsPerSecond * 60 * 1.2) / 1000) * 1000}`);
  if (globalShardWrites > deployment.documentWritesPerSecond) crossed.push(`one write/s per document: each of the ${deployment.bootGlobalShards} global-counter shards would take ${globalShardWrites.toFixed(1)} writes/s; needs >= ${Math.ceil(requestsPerSecond / 0.5)} shards (shardsFor caps at 100: a code change) or fewer counted requests (count the boot script only)`);
  if (instancesRedirect > deployment.bootScript.maxInstances) crossed.push(`max instances ${deployment.bootScript.maxInstances} (boot functions): ${instancesRedirect} needed in redirect mode`);
  if (instancesProxy > deployment.assets.maxInstances) crossed.push(`max instances ${deployment.assets.maxInstances} (asset functions, proxy mode): ${instancesProxy} needed; use redirect mode or raise max_instances`);
  if (writes > deployment.rampStartOpsPerSecond || reads > deployment.rampStartOpsPerSecond) crossed.push(`Firestore 500/50/5 ramp: ${Math.round(reads + writes)} ops/s at peak against 500 for new collections (warm the boots collection up, or spread power-on)`);
  if (writes > deployment.databaseWritesPerSecond) crossed.push(`Firestore ${deployment.databaseWritesPerSecond} writes/s per database`);
  return { machines, minutes, peakBootsPerSecond: peak, instancesRedirect, instancesProxy, firestoreReadsPerSecond: reads, firestoreWritesPerSecond: writes, globalShardWritesPerSecond: globalShardWrites, egressGiB, dollarsRedirect, dollarsProxy, crossed };
}

/** The defaults: the storm quoted in BENCHMARKS.md (replace with --from a new report). */
export const measuredCosts: BootCosts = { readsPerBoot: 16, writesPerBoot: 13, cpuMsPerBoot: 110, requestsPerBoot: 4, proxyCpuMsPerMiB: 7.06, source: 'defaults: 40-machine storm, 2026-12-06 03:20 UTC (load average ~20)' };

export function costsFromReport(report: StormReport, file: string): BootCosts {
  if (!report.firestore || report.cpuMsPerBoot === null) throw new Error(`${file}: a local storm's report is needed (Firestore counts and instance CPU)`);
  // Every boot request the instances served, retries and refusals included, as the reads and writes are.
  const bootFunctions = ['bootScript', 'assetKernel', 'assetInitrd', 'bootReport'];
  const routed = report.instances.reduce((s, i) => s + bootFunctions.reduce((t, fn) => t + (i.requests[fn] ?? 0), 0), 0);
  const requests = routed / Math.max(1, report.booted);
  return { readsPerBoot: report.firestore.readsPerBoot, writesPerBoot: report.firestore.writesPerBoot, cpuMsPerBoot: report.cpuMsPerBoot, requestsPerBoot: requests, proxyCpuMsPerMiB: measuredCosts.proxyCpuMsPerMiB, source: `${file}: ${report.machines} machines, ${report.booted} booted` };
}

export function modelTable(costs: BootCosts, a: ModelAssumptions = defaultAssumptions, p: Prices = listPrices): string {
  const rows = [1_000, 10_000, 100_000].flatMap((m) => [5, 15, 60].map((min) => model(m, min, costs, a, p)));
  const n = (v: number, digits = 0) => v.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
  const lines = [
    `Per boot: ${n(costs.readsPerBoot, 1)} reads, ${n(costs.writesPerBoot, 1)} writes, ${n(costs.cpuMsPerBoot)} ms CPU, ${n(costs.requestsPerBoot, 1)} requests (${costs.source}); images ${a.kernelMiB} + ${a.initrdMiB} MiB; peak = ${a.peakFactor} x the mean rate; proxy downloads at ${a.machineMiBps} MiB/s per machine.`,
    '',
    '| machines | over | peak boots/s | instances, redirect | instances, proxy | Firestore reads/s / writes/s at peak | global-counter shard writes/s | egress (Storage in redirect, functions in proxy) | $ per storm, redirect / proxy | limits crossed |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${n(r.machines)} | ${r.minutes} min | ${n(r.peakBootsPerSecond, 1)} | ${r.instancesRedirect} | ${r.instancesProxy} | ${n(r.firestoreReadsPerSecond)} / ${n(r.firestoreWritesPerSecond)} | ${n(r.globalShardWritesPerSecond, 2)} | ${n(r.egressGiB)} GiB | ${n(r.dollarsRedirect, 2)} / ${n(r.dollarsProxy, 2)} | ${r.crossed.length === 0 ? 'none' : r.crossed.map((c) => c.split(':')[0]).join('; ')} |`),
    '',
    'Limits crossed, and what avoids them:',
    '',
    ...[...new Set(rows.flatMap((r) => r.crossed.map((c) => `${c.split(':')[0]}`)))].map((name) => {
      // Worst: the highest peak rate that crosses it; first: the lowest.
      const crossing = rows.filter((r) => r.crossed.some((c) => c.startsWith(name))).sort((x, y) => x.peakBootsPerSecond - y.peakBootsPerSecond);
      const worst = crossing.at(-1) as Row;
      const first = crossing[0] as Row;
      const detail = worst.crossed.find((c) => c.startsWith(name)) as string;
      return `- ${detail} (figures for ${n(worst.machines)} machines over ${worst.minutes} min; crossed from ${n(first.machines)} over ${first.minutes} min, ${n(first.peakBootsPerSecond, 1)} boots/s at peak)`;
    }),
  ];
  return `${lines.join('\n')}\n`;
}

function main(): void {
  const argv = process.argv.slice(2);
  const opt = (name: string): string | undefined => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : undefined);
  const num = (name: string, fallback: number): number => {
    const v = opt(name);
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`${name}: ${v} is not a positive number`);
    return n;
  };
  const from = opt('--from');
  const costs = from ? costsFromReport(JSON.parse(readFileSync(resolve(from), 'utf8')) as StormReport, from) : measuredCosts;
  const assumptions: ModelAssumptions = { kernelMiB: num('--kernel-mib', defaultAssumptions.kernelMiB), initrdMiB: num('--initrd-mib', defaultAssumptions.initrdMiB), peakFactor: num('--peak-factor', defaultAssumptions.peakFactor), scriptSeconds: num('--script-seconds', defaultAssumptions.scriptSeconds), machineMiBps: num('--machine-mibps', defaultAssumptions.machineMiBps) };
  const prices: Prices = { ...listPrices, vcpuSecond: num('--price-vcpu-second', listPrices.vcpuSecond), per100kReads: num('--price-100k-reads', listPrices.per100kReads), per100kWrites: num('--price-100k-writes', listPrices.per100kWrites), egressPerGiB: num('--price-egress-gib', listPrices.egressPerGiB) };
  process.stdout.write(modelTable(costs, assumptions, prices));
}

if (require.main === module) main();
