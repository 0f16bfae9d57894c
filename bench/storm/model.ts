// `npx tsx bench/storm/model.ts [--from REPORT.json] [--kernel-mib 10] [--initrd-mib 100]
//  [--peak-factor 2] [--script-seconds 0.05] [--machine-mibps 25] [--price-vcpu-second ..]
//  [--price-100k-reads ..] [--price-100k-writes ..] [--price-egress-gib ..]` (--help prints this):
// the boot-storm model for real fleets (issue 24, section 2).
// From the measured costs of one boot (Firestore reads and writes, the instances' CPU and the
// requests it makes: a `npm run storm -- --json` report, or the defaults below from the run
// quoted in BENCHMARKS.md), for 1,000 / 10,000 / 100,000 machines powering on over 5 / 15 / 60
// minutes: instances, Firestore operations per second against its documented limits, Storage
// and function egress, and dollars per storm at list prices. Prints Markdown (the table in
// BENCHMARKS.md is this output), then for each row the limits Terraform's defaults would cross,
// what avoids each, and the Terraform values the row needs. Terraform's defaults are this
// model's recommendation at its design point (`designPoint`; test/infra/storm-defaults.test.ts).
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { loadConfig } from '../../shared/config';
import { requestsPerShardMinute, shardsFor } from '../../shared/ratelimit/policy';
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

/** A function's deployed sizing, from terraform/functions.json (generated from shared/routes.ts). */
function deployedSizing(fn: string): { concurrency: number; memoryGiB: number; maxInstances: number } {
  const file = resolve(__dirname, '../../terraform/functions.json');
  const entry = (JSON.parse(readFileSync(file, 'utf8')) as { functions: Record<string, { concurrency: number; memory: string; max_instances: number }> }).functions[fn];
  if (!entry) throw new Error(`${file}: no function ${fn}`);
  const mi = /^(\d+)Mi$/.exec(entry.memory);
  const gi = /^(\d+)Gi$/.exec(entry.memory);
  return { concurrency: entry.concurrency, memoryGiB: mi ? Number(mi[1]) / 1024 : Number(gi?.[1] ?? NaN), maxInstances: entry.max_instances };
}

/**
 * The boot path's functions whose max instances Terraform sets from variables
 * (terraform/boot_storm.tf): boot_max_instances for the script and the report, sized here;
 * asset_max_instances for the kernel and initrd (functions.json's 20: proxy mode's streams),
 * which must be at least boot_max_instances, as in redirect mode an asset answer costs about
 * what a script does. The storm measures a whole boot's CPU, not each function's, so each
 * function is given the whole boot's need.
 */
export const bootFunctions = ['bootScript', 'bootReport'] as const;
export const assetFunctions = ['assetKernel', 'assetInitrd'] as const;

/** The configuration's own defaults (shared/config.ts), as Terraform passes them. */
const configDefaults = loadConfig({});

/**
 * The design point Terraform's defaults are sized for (docs/performance.md, "Boot storms"):
 * a site of 10,000 machines powering on over 15 minutes in redirect mode (Terraform's
 * ASSET_DELIVERY), with twice the model's instances at peak as headroom.
 */
export const designPoint = { machines: 10_000, minutes: 15, headroom: 2 } as const;

/** What Terraform deploys and the platform's documented limits. */
export const deployment = {
  bootScript: deployedSizing('bootScript'),
  assets: deployedSizing('assetKernel'),
  /**
   * Cloud Run scales out to keep instances near 60 % CPU and 60 % of their maximum concurrency
   * (https://cloud.google.com/run/docs/about-instance-autoscaling).
   */
  targetCpuUtilisation: 0.6,
  targetConcurrencyUtilisation: 0.6,
  /** RATE_LIMIT_BOOT_GLOBAL (per minute) and RATE_LIMIT_MAX_SHARDS: the defaults of shared/config.ts, which Terraform's variables repeat (test/infra/storm-defaults.test.ts). */
  bootGlobalPerMinute: configDefaults.RATE_LIMIT_BOOT_GLOBAL,
  maxShards: configDefaults.RATE_LIMIT_MAX_SHARDS,
  /** Firestore: about one sustained write per second per document; 500 operations per second to start a new collection, +50 % every 5 minutes (the 500/50/5 rule); 10,000 writes per second per database. */
  documentWritesPerSecond: 1,
  rampStartOpsPerSecond: 500,
  databaseWritesPerSecond: 10_000,
  /** An aggregation is billed one read per 1,000 index entries (https://cloud.google.com/firestore/pricing#aggregation_queries). */
  indexEntriesPerRead: 1000,
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

/** A limit the storm would cross with Terraform's defaults, and the configuration that avoids it. */
export interface Crossing {
  limit: string;
  detail: string;
  avoid: string;
}

/** Terraform variables for one storm (redirect mode). */
export interface Recommendation {
  /** boot_max_instances: max instances of the boot script and the report, headroom included. */
  bootMaxInstances: number;
  /** asset_max_instances: the deployed default (proxy mode's streams), or boot_max_instances where that is more. */
  assetMaxInstances: number;
  /** rate_limit_boot_global: the deployed default, or the storm's peak plus 20 % where that is more. */
  rateLimitBootGlobal: number;
  /** rate_limit_max_shards: ceil(rate_limit_boot_global / 30), so the global counter holds at its limit. */
  rateLimitMaxShards: number;
  assetDelivery: 'redirect';
  /** Billed reads of one counted request's global total at that shard count. */
  readsPerCountedRequest: number;
  /** Boot-script slots at peak (Little's law) against the deployed concurrency: concurrency is not the bound while this is below the instances. */
  scriptSlotsAtPeak: number;
}

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
  recommended: Recommendation;
  crossed: Crossing[];
}

/** Instances at peak before rounding: the larger of CPU (at the utilisation Cloud Run scales to) and concurrency (Little's law). */
function peakNeeds(machines: number, minutes: number, costs: BootCosts, a: ModelAssumptions) {
  const peak = (machines / (minutes * 60)) * a.peakFactor;
  const cpuInstances = (peak * costs.cpuMsPerBoot) / 1000 / deployment.targetCpuUtilisation;
  const scriptSlots = (peak * a.scriptSeconds) / (deployment.bootScript.concurrency * deployment.targetConcurrencyUtilisation);
  return { peak, redirect: Math.max(cpuInstances, scriptSlots), cpuInstances, scriptSlots, requestsPerMinute: peak * costs.requestsPerBoot * 60 };
}

export function recommend(machines: number, minutes: number, costs: BootCosts, a: ModelAssumptions = defaultAssumptions): Recommendation {
  const need = peakNeeds(machines, minutes, costs, a);
  const rateLimitBootGlobal = Math.max(deployment.bootGlobalPerMinute, Math.ceil((need.requestsPerMinute * 1.2) / 1000) * 1000);
  const rateLimitMaxShards = Math.ceil(rateLimitBootGlobal / requestsPerShardMinute);
  const bootMaxInstances = Math.max(1, Math.ceil(need.redirect * designPoint.headroom));
  return {
    bootMaxInstances,
    assetMaxInstances: Math.max(deployment.assets.maxInstances, bootMaxInstances),
    rateLimitBootGlobal,
    rateLimitMaxShards,
    assetDelivery: 'redirect',
    readsPerCountedRequest: Math.ceil(rateLimitMaxShards / deployment.indexEntriesPerRead),
    scriptSlotsAtPeak: need.scriptSlots,
  };
}

/** The defaults: the storm whose figures BENCHMARKS.md's table shows (replace with --from a new report; a change moves Terraform's defaults, see terraformDefaults). */
export const measuredCosts: BootCosts = { readsPerBoot: 20.1, writesPerBoot: 15.2, cpuMsPerBoot: 69.8, requestsPerBoot: 4.8, proxyCpuMsPerMiB: 7.06, source: 'defaults: the 300-machine storm of 2026-12-06 03:38 UTC, 300 booted (load average 10-19)' };

/** Terraform's defaults (terraform/variables.tf): the recommendation at the design point from the built-in costs; test/infra/storm-defaults.test.ts fails when they part. */
export const terraformDefaults: Recommendation = recommend(designPoint.machines, designPoint.minutes, measuredCosts);

export function costsFromReport(report: StormReport, file: string): BootCosts {
  if (!report.firestore || report.cpuMsPerBoot === null) throw new Error(`${file}: a local storm's report is needed (Firestore counts and instance CPU)`);
  // Every boot request the instances served, retries and refusals included, as the reads and writes are.
  const bootFunctions = ['bootScript', 'assetKernel', 'assetInitrd', 'bootReport'];
  const routed = report.instances.reduce((s, i) => s + bootFunctions.reduce((t, fn) => t + (i.requests[fn] ?? 0), 0), 0);
  const requests = routed / Math.max(1, report.booted);
  return { readsPerBoot: report.firestore.readsPerBoot, writesPerBoot: report.firestore.writesPerBoot, cpuMsPerBoot: report.cpuMsPerBoot, requestsPerBoot: requests, proxyCpuMsPerMiB: measuredCosts.proxyCpuMsPerMiB, source: `${file}: ${report.machines} machines, ${report.booted} booted` };
}

export function model(machines: number, minutes: number, costs: BootCosts, a: ModelAssumptions = defaultAssumptions, p: Prices = listPrices): Row {
  const { peak, redirect, cpuInstances, scriptSlots, requestsPerMinute } = peakNeeds(machines, minutes, costs, a);
  const bytesMiB = a.kernelMiB + a.initrdMiB;
  const instancesRedirect = Math.max(1, Math.ceil(redirect));
  const downloadSeconds = bytesMiB / a.machineMiBps;
  const proxyCpuInstances = (peak * bytesMiB * costs.proxyCpuMsPerMiB) / 1000 / deployment.targetCpuUtilisation;
  const downloadInstances = (peak * downloadSeconds) / (deployment.assets.concurrency * deployment.targetConcurrencyUtilisation);
  const instancesProxy = Math.max(1, Math.ceil(Math.max(cpuInstances + proxyCpuInstances, scriptSlots + downloadInstances)));
  const reads = peak * costs.readsPerBoot;
  const writes = peak * costs.writesPerBoot;
  // Every request increments one random shard of the global counter (one write per batch at most).
  const requestsPerSecond = requestsPerMinute / 60;
  const deployedShards = shardsFor(deployment.bootGlobalPerMinute, deployment.maxShards);
  const globalShardWrites = requestsPerSecond / deployedShards;
  const egressGiB = (machines * bytesMiB) / 1024;
  // Billed instance time (request-based billing): CPU seconds at the scaling target, or the time downloads hold slots.
  const cpuSeconds = (machines * costs.cpuMsPerBoot) / 1000;
  const billedRedirect = cpuSeconds / deployment.targetCpuUtilisation;
  const billedProxy = Math.max((cpuSeconds + (machines * bytesMiB * costs.proxyCpuMsPerMiB) / 1000) / deployment.targetCpuUtilisation, (machines * downloadSeconds) / deployment.assets.concurrency + billedRedirect);
  const firestoreDollars = ((machines * costs.readsPerBoot) / 1e5) * p.per100kReads + ((machines * costs.writesPerBoot) / 1e5) * p.per100kWrites;
  const requestDollars = ((machines * costs.requestsPerBoot) / 1e6) * p.perMillionRequests;
  const dollarsRedirect = billedRedirect * (p.vcpuSecond + deployment.bootScript.memoryGiB * p.gibSecond) + requestDollars + firestoreDollars + egressGiB * p.egressPerGiB + ((machines * 2) / 1000) * p.classBPer1000;
  const dollarsProxy = billedProxy * (p.vcpuSecond + deployment.assets.memoryGiB * p.gibSecond) + requestDollars + firestoreDollars + egressGiB * p.egressPerGiB + ((machines * 2) / 1000) * p.classBPer1000;
  const rec = recommend(machines, minutes, costs, a);
  const maxInstances = terraformDefaults.bootMaxInstances;
  const assetMax = deployment.assets.maxInstances;
  const crossed: Crossing[] = [];
  const raiseGlobal = `rate_limit_boot_global = ${rec.rateLimitBootGlobal} and rate_limit_max_shards = ${rec.rateLimitMaxShards} (${rec.readsPerCountedRequest} read${rec.readsPerCountedRequest === 1 ? '' : 's'} per counted request), or rate_limit_boot_global = 0 (off) for a planned mass reinstall`;
  if (requestsPerMinute > deployment.bootGlobalPerMinute) crossed.push({ limit: `RATE_LIMIT_BOOT_GLOBAL (${deployment.bootGlobalPerMinute}/min)`, detail: `${Math.ceil(requestsPerMinute)} requests/min at peak would be refused (429)`, avoid: raiseGlobal });
  if (globalShardWrites > deployment.documentWritesPerSecond)
    crossed.push({ limit: 'one write/s per document', detail: `each of the ${deployedShards} global-counter shards would take ${globalShardWrites.toFixed(1)} writes/s`, avoid: `rate_limit_max_shards = ${Math.max(rec.rateLimitMaxShards, Math.ceil(requestsPerSecond / 0.5))} (one write every two seconds per shard at the peak)` });
  if (instancesRedirect > maxInstances)
    crossed.push({ limit: `max instances ${maxInstances} (boot functions)`, detail: `${instancesRedirect} needed in redirect mode`, avoid: `boot_max_instances = ${rec.bootMaxInstances}${rec.assetMaxInstances > assetMax ? ` and asset_max_instances = ${rec.assetMaxInstances}` : ''} (check the project's Cloud Run quota)` });
  if (instancesProxy > assetMax) crossed.push({ limit: `max instances ${assetMax} (asset functions, proxy mode)`, detail: `${instancesProxy} needed`, avoid: `asset_delivery = "redirect" (Terraform's default), or asset_max_instances = ${Math.ceil(instancesProxy * designPoint.headroom)}` });
  if (writes > deployment.rampStartOpsPerSecond || reads > deployment.rampStartOpsPerSecond)
    crossed.push({ limit: 'Firestore 500/50/5 ramp', detail: `${Math.round(reads)} reads/s and ${Math.round(writes)} writes/s at peak against 500 operations/s for a new collection`, avoid: 'spread power-on (racks in waves), or grow the traffic first; no variable avoids it' });
  if (writes > deployment.databaseWritesPerSecond) crossed.push({ limit: `Firestore ${deployment.databaseWritesPerSecond} writes/s per database`, detail: `${Math.round(writes)} writes/s at peak`, avoid: 'a slower power-on only' });
  return { machines, minutes, peakBootsPerSecond: peak, instancesRedirect, instancesProxy, firestoreReadsPerSecond: reads, firestoreWritesPerSecond: writes, globalShardWritesPerSecond: globalShardWrites, egressGiB, dollarsRedirect, dollarsProxy, recommended: rec, crossed };
}

export function modelTable(costs: BootCosts, a: ModelAssumptions = defaultAssumptions, p: Prices = listPrices): string {
  const rows = [1_000, 10_000, 100_000].flatMap((m) => [5, 15, 60].map((min) => model(m, min, costs, a, p)));
  const n = (v: number, digits = 0) => v.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
  const d = terraformDefaults;
  const design = recommend(designPoint.machines, designPoint.minutes, costs, a);
  const lines = [
    `Per boot: ${n(costs.readsPerBoot, 1)} reads, ${n(costs.writesPerBoot, 1)} writes, ${n(costs.cpuMsPerBoot)} ms CPU, ${n(costs.requestsPerBoot, 1)} requests (${costs.source}); images ${a.kernelMiB} + ${a.initrdMiB} MiB; peak = ${a.peakFactor} x the mean rate; proxy downloads at ${a.machineMiBps} MiB/s per machine.`,
    '',
    `Terraform's defaults: boot_max_instances = ${d.bootMaxInstances} (${bootFunctions.join(', ')}), asset_max_instances = ${d.assetMaxInstances} (${assetFunctions.join(', ')}), rate_limit_boot_global = ${d.rateLimitBootGlobal}, rate_limit_max_shards = ${d.rateLimitMaxShards} (${deployment.bootGlobalPerMinute}/min over ${shardsFor(deployment.bootGlobalPerMinute, deployment.maxShards)} shards), asset_delivery = "redirect"; sized for ${n(designPoint.machines)} machines over ${designPoint.minutes} min with ${designPoint.headroom} x headroom.`,
    ...(design.bootMaxInstances === d.bootMaxInstances ? [] : [`These costs recommend boot_max_instances = ${design.bootMaxInstances} at that design point (the defaults come from the built-in costs).`]),
    '',
    '| machines | over | peak boots/s | instances, redirect | instances, proxy | Firestore reads/s / writes/s at peak | global-counter shard writes/s | egress (Storage in redirect, functions in proxy) | $ per storm, redirect / proxy | limits crossed |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${n(r.machines)} | ${r.minutes} min | ${n(r.peakBootsPerSecond, 1)} | ${r.instancesRedirect} | ${r.instancesProxy} | ${n(r.firestoreReadsPerSecond)} / ${n(r.firestoreWritesPerSecond)} | ${n(r.globalShardWritesPerSecond, 2)} | ${n(r.egressGiB)} GiB | ${n(r.dollarsRedirect, 2)} / ${n(r.dollarsProxy, 2)} | ${r.crossed.length === 0 ? 'none' : r.crossed.map((c) => c.limit).join('; ')} |`),
    '',
    'Each row with Terraform\'s defaults: what it crosses and the configuration that avoids it, and the Terraform values it needs (redirect mode; a value in bold differs from the default):',
    '',
    '| machines | over | boot_max_instances | asset_max_instances | rate_limit_boot_global | rate_limit_max_shards (reads per counted request) | limits crossed -> what avoids them |',
    '|---|---|---|---|---|---|---|',
    ...rows.map((r) => {
      const v = (value: number, dflt: number) => (value > dflt ? `**${value}**` : String(value));
      const rec = r.recommended;
      const needed = Math.max(rec.bootMaxInstances, d.bootMaxInstances);
      const crossed = r.crossed.length === 0 ? 'none' : r.crossed.map((c) => `${c.limit}: ${c.detail} -> ${c.avoid}`).join('; ');
      return `| ${n(r.machines)} | ${r.minutes} min | ${v(needed, d.bootMaxInstances)} | ${v(rec.assetMaxInstances, d.assetMaxInstances)} | ${v(rec.rateLimitBootGlobal, d.rateLimitBootGlobal)} | ${v(rec.rateLimitMaxShards, d.rateLimitMaxShards)} (${rec.readsPerCountedRequest}) | ${crossed} |`;
    }),
  ];
  return `${lines.join('\n')}\n`;
}

function main(): void {
  const argv = process.argv.slice(2);
  if (argv.includes('--help')) {
    const header = readFileSync(__filename, 'utf8').split('\n').filter((l) => l.startsWith('//'));
    process.stdout.write(`${header.map((l) => l.replace(/^\/\/ ?/, '')).join('\n')}\n`);
    return;
  }
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
