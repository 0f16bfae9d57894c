// `npx tsx bench/cpu-profile.ts FILE.cpuprofile [top] [requests]`: where a V8 CPU profile (node
// --cpu-prof) spends its time: by part of the stack (each sample goes to the first of a few
// groups that any frame of its stack belongs to: start-up, the Firestore client, our boot code,
// ...; per request when `requests` is given), self time by owner (our code by file,
// node_modules by package, Node's own internals, GC and idle), and the top functions.
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface ProfileSummary {
  /** Time by the first group (stackGroups) a frame of the sample's stack belongs to. */
  byStack: { group: string; ms: number; share: number }[];
  totalMs: number;
  /** Without (idle) and (program): the time the process was really working. */
  busyMs: number;
  byOwner: { owner: string; ms: number; share: number }[];
  topFunctions: { name: string; ms: number; share: number }[];
}

/** `node_modules/@scope/pkg` or `node_modules/pkg`; our files relative to the repository; `node:` internals. */
export function ownerOf(url: string, functionName: string): string {
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  const modules = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (modules) return modules[1] as string;
  if (url.startsWith('node:')) return 'node: internals';
  const ours = /\/(shared|functions|emulators|bench|cli)\/(.+)$/.exec(url);
  return ours ? `${ours[1]}/${ours[2]}` : url;
}

type Frame = ProfileNode['callFrame'];

/** In order: a sample counts for the first group any frame of its stack matches. */
const stackGroups: [string, (f: Frame) => boolean][] = [
  ['start-up (loading and compiling modules)', (f) => /tsx|esbuild/.test(f.url) || /^(Module\._load|wrapSafe|compileForInternalLoader|requireBuiltin|internalModuleStat|readFileUtf8)$/.test(f.functionName)],
  ['Firestore client, gRPC, protobuf', (f) => /@google-cloud\/firestore|@grpc|google-gax|protobufjs|@protobufjs|\/long\//.test(f.url)],
  ['batching (dataloader)', (f) => /dataloader/.test(f.url)],
  ['our boot code (shared/boot, domain, lifecycle, functions)', (f) => /shared\/(boot|domain|lifecycle|inventory)|functions\//.test(f.url)],
  ['our rate limiter', (f) => /shared\/ratelimit/.test(f.url)],
  ['our request steps, telemetry, logging', (f) => /shared\/(http|telemetry|logging)|winston/.test(f.url)],
  ['the local gateway', (f) => /emulators\/gateway/.test(f.url)],
  ['functions-framework, express', (f) => /functions-framework|express|router|body-parser|on-finished|raw-body|parseurl|finalhandler/.test(f.url)],
  ["Node's HTTP server", (f) => /_http_|node:http|node:net/.test(f.url)],
];

export function summarise(profile: CpuProfile, top = 15): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<number, number>();
  profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const owners = new Map<string, number>();
  const groups = new Map<string, number>();
  const functions = new Map<string, number>();
  let totalUs = 0;
  let idleUs = 0;
  for (const [id, us] of self) {
    const node = byId.get(id);
    if (!node) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    totalUs += us;
    if (functionName === '(idle)' || functionName === '(program)') idleUs += us;
    if (functionName !== '(idle)' && functionName !== '(program)') {
      const stack: Frame[] = [];
      for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
        const frame = byId.get(at)?.callFrame;
        if (frame) stack.push(frame);
      }
      const group = functionName === '(garbage collector)' ? 'garbage collector' : (stackGroups.find(([, test]) => stack.some(test))?.[0] ?? "other (mostly Node's async hooks: functions-framework's per-request domain)");
      groups.set(group, (groups.get(group) ?? 0) + us);
    }
    const owner = ownerOf(url, functionName);
    owners.set(owner, (owners.get(owner) ?? 0) + us);
    const name = `${functionName || '(anonymous)'} ${url ? `${owner}:${lineNumber + 1}` : ''}`.trim();
    functions.set(name, (functions.get(name) ?? 0) + us);
  }
  const busyUs = totalUs - idleUs;
  const rank = (m: Map<string, number>) =>
    [...m]
      .filter(([name]) => name !== '(idle)' && name !== '(program)')
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, us]) => ({ name, ms: us / 1000, share: us / Math.max(1, busyUs) }));
  return {
    byStack: [...groups].sort((a, b) => b[1] - a[1]).map(([group, us]) => ({ group, ms: us / 1000, share: us / Math.max(1, busyUs) })),
    totalMs: totalUs / 1000,
    busyMs: busyUs / 1000,
    byOwner: rank(owners).map(({ name, ms, share }) => ({ owner: name, ms, share })),
    topFunctions: rank(functions),
  };
}

function main(): void {
  const [file, topArg, requestsArg] = process.argv.slice(2);
  if (!file) throw new Error('usage: bench/cpu-profile.ts FILE.cpuprofile [top] [requests]');
  const summary = summarise(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile, Number(topArg ?? 15));
  const requests = Number(requestsArg ?? 0);
  const out = (line: string) => process.stdout.write(`${line}\n`);
  out(`busy ${summary.busyMs.toFixed(0)} ms of ${summary.totalMs.toFixed(0)} ms profiled`);
  out('\nby part of the stack:');
  for (const g of summary.byStack) out(`  ${(g.share * 100).toFixed(1).padStart(5)} %  ${g.ms.toFixed(0).padStart(6)} ms${requests > 0 ? `  ${(g.ms / requests).toFixed(3)} ms per request` : ''}  ${g.group}`);
  out('\nself time by owner:');
  for (const o of summary.byOwner) out(`  ${(o.share * 100).toFixed(1).padStart(5)} %  ${o.ms.toFixed(0).padStart(6)} ms  ${o.owner}`);
  out('\ntop functions by self time:');
  for (const f of summary.topFunctions) out(`  ${(f.share * 100).toFixed(1).padStart(5)} %  ${f.ms.toFixed(0).padStart(6)} ms  ${f.name}`);
}

if (require.main === module) main();
