// `netboot ipxe build`: iPXE from upstream source with this service's script and trust built in.
//
// Cache (under ipxeCacheDir()): trees/<key>/ is an extracted source tree per (source digest,
// config headers), kept so make rebuilds only what changed; outputs/<key>/ keeps each target's
// binaries per every input, so the same inputs again only copy files. flocks in the tree keep
// two builds (two vitest workers, two shells) from running make on the same objects at once.
import { createHash } from 'node:crypto';
import { copyFileSync, createWriteStream, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { homedir, availableParallelism } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { IpxeBuildError } from './errors';
import { acquireLock } from './lock';
import { run } from './run';
import { embeddedScript, frontDoorUrl, ntpServer } from './script';
import { extractSource, ipxeVersion, resolveSource, sha256File, type IpxeSource } from './source';
import { IPXE_TARGETS, TARGET_FILES, crossPrefix, parseTarget, type IpxeTarget } from './targets';
import { checkToolchain } from './toolchain';
import { describeDoor, describeTrust, planTrust, type DoorChainInput, type DoorCheck, type TrustPlan, type TrustedRoot } from './trust';

export { IpxeBuildError } from './errors';
export { IPXE_TARGETS, type IpxeTarget } from './targets';

export interface IpxeBuildOptions {
  /** The front door's base URL (https; http only with insecureHttp). */
  url: string;
  /** PEM files of roots to trust (--trust, repeatable; a file may hold several). */
  trust?: readonly string[];
  /** PEM texts of roots to trust (for callers that hold them in memory). */
  trustPem?: readonly string[];
  /** Add Google's roots from Debian's ca-certificates (--trust-google). */
  trustGoogle?: boolean;
  /**
   * Read the chain the front door serves at `url` and build in the cross-signed forms of trusted
   * roots it holds (default false here; the CLI's default is true, --no-probe turns it off).
   */
  probe?: boolean;
  /** The door's chain as PEM (--door-chain's text): instead of the probe, e.g. for a door out of reach. */
  doorChainPem?: string;
  /** Where doorChainPem came from, for the output and manifest.json (default `door chain PEM`). */
  doorChainSource?: string;
  /** Default: all three. */
  targets?: readonly string[];
  /** Tarball or source directory; default the vendored v2.0.0 tarball. */
  source?: string;
  /** Default ./ipxe-out. */
  out?: string;
  /** OCSP checks as iPXE defaults (true) or off (--no-ocsp). */
  ocsp?: boolean;
  /** NTP server; default the one DHCP option 42 names, if any. */
  ntp?: string;
  insecureHttp?: boolean;
  /** Default: NETBOOT_IPXE_CACHE, else ${XDG_CACHE_HOME:-~/.cache}/netboot/ipxe. */
  cacheDir?: string;
  /** Where --trust-google reads the CA store (default Debian's). */
  caDir?: string;
  /** make -j (default: the CPUs available). */
  jobs?: number;
  onEvent?: (event: BuildEvent) => void;
}

export type BuildEvent =
  | { type: 'step'; text: string }
  /** Said however quiet the output: the door's chain would be refused by this build. */
  | { type: 'warning'; text: string }
  /** One object compiled; expected: the count a clean build of this target compiled last time (or an estimate). */
  | { type: 'compile'; target: IpxeTarget; compiled: number; expected: number }
  | { type: 'target-done'; target: IpxeTarget; result: TargetResult };

export interface TargetResult {
  /** hit: copied from the output cache; built: make ran (compiled says how much it did). */
  cache: 'hit' | 'built';
  /** Objects make compiled ([BUILD] lines): hundreds from clean, a few for a relink. */
  compiled: number;
  /** Wall time, waiting included. */
  seconds: number;
  /** Of which waiting for another build's make on the same objects (the lock). */
  waitedSeconds: number;
  log?: string;
}

export interface ManifestFile {
  name: string;
  target: IpxeTarget;
  sha256: string;
  size: number;
}

export interface IpxeManifest {
  tool: 'netboot ipxe build';
  url: string;
  ipxe: { version: string; source: { kind: IpxeSource['kind']; path: string; sha256: string } };
  files: ManifestFile[];
  /** Roots, then cross-signed forms of them (with their issuer and the root they are a form of). */
  trust: { subject: string; sha256: string; source: string; issuer?: string; crossSignedFormOf?: { subject: string; sha256: string } }[];
  /** The front door's chain as read at build time and what this build's iPXE will do with it. */
  door: DoorCheck;
  options: { targets: IpxeTarget[]; ocsp: boolean; ntp: string; insecureHttp: boolean; trustGoogle: boolean };
  script: { sha256: string };
}

export interface IpxeBuildResult {
  outDir: string;
  manifest: IpxeManifest;
  targets: Partial<Record<IpxeTarget, TargetResult>>;
}

/** The cache root: like ccache's, per user, so every checkout and every test run share one warm tree. */
export function ipxeCacheDir(override?: string): string {
  if (override) return resolve(override);
  if (process.env.NETBOOT_IPXE_CACHE) return resolve(process.env.NETBOOT_IPXE_CACHE);
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'netboot', 'ipxe');
}

/** config/local/*.h: what changes compiled objects, hence part of the tree's key. */
export function configHeaders(opts: { ocsp: boolean }): Record<string, string> {
  return {
    'general.h': [
      '/* netboot ipxe build */',
      '#define DOWNLOAD_PROTO_HTTPS\t/* BIOS builds leave HTTPS out by default */',
      '#define NTP_CMD\t\t\t/* the embedded script sets the clock (BIOS leaves ntp out) */',
      '',
    ].join('\n'),
    'crypto.h': ['/* netboot ipxe build */', ...(opts.ocsp ? [] : ['#undef OCSP_CHECK\t/* --no-ocsp: no OCSP responder is asked */']), ''].join('\n'),
  };
}

const digest = (v: unknown) => createHash('sha256').update(JSON.stringify(v)).digest('hex');

/** Compiled-object counts of a clean build here (v2.0.0, Debian bookworm gcc); refined by each tree's counts.json. */
const EXPECTED_OBJECTS: Record<IpxeTarget, number> = { bios: 1021, 'efi-x86_64': 1000, 'efi-arm64': 900 };

/** A path make can take in EMBED= / TRUST= / CERT= lists (comma-separated, space-separated words). */
function makeSafe(path: string): string {
  if (/[\s,$'"\\]/.test(path)) throw new IpxeBuildError(`the iPXE cache path ${path} has a space, comma or quote, which make cannot take: set NETBOOT_IPXE_CACHE`, 'usage');
  return path;
}

/**
 * What a build will trust, without building: the roots, the cross-signed forms taken from trust
 * files and from the door's chain (probe or doorChainPem), and the door's chain checked as
 * iPXE 2.0.0 will check it (`netboot ipxe build --plan` prints it).
 */
export function planBuildTrust(options: Pick<IpxeBuildOptions, 'url' | 'insecureHttp' | 'trust' | 'trustPem' | 'trustGoogle' | 'caDir' | 'probe' | 'doorChainPem' | 'doorChainSource'>): Promise<TrustPlan> {
  const url = frontDoorUrl(options.url, options.insecureHttp ?? false);
  let door: DoorChainInput | undefined;
  if (options.doorChainPem !== undefined) door = { kind: 'pem', text: options.doorChainPem, source: options.doorChainSource ?? 'door chain PEM' };
  else if (options.probe && url.startsWith('https:')) door = { kind: 'probe', url };
  return planTrust({ trustFiles: options.trust, trustPems: options.trustPem, trustGoogle: options.trustGoogle, caDir: options.caDir, door });
}

/** The plan's lines, as the build prints them (a refused door chain as a warning). */
export function planLines(plan: TrustPlan): { text: string; warning: boolean }[] {
  return [...plan.trust.map((t) => ({ text: describeTrust(t), warning: false })), ...describeDoor(plan.door).map((text) => ({ text, warning: plan.door.verdict?.accepted === false }))];
}

export async function buildIpxe(options: IpxeBuildOptions): Promise<IpxeBuildResult> {
  const event = options.onEvent ?? (() => undefined);
  const insecureHttp = options.insecureHttp ?? false;
  const url = frontDoorUrl(options.url, insecureHttp);
  const targets = [...new Set((options.targets?.length ? options.targets : IPXE_TARGETS).map(parseTarget))];
  const ntp = options.ntp === undefined ? undefined : ntpServer(options.ntp);
  const ocsp = options.ocsp ?? true;
  const plan = await planBuildTrust(options);
  const roots = plan.trust;
  for (const line of planLines(plan)) event({ type: line.warning ? 'warning' : 'step', text: line.text });
  const source = resolveSource(options.source);
  checkToolchain(targets);

  const script = embeddedScript({ url, ntp });
  const headers = configHeaders({ ocsp });
  const treeKey = digest({ source: source.sha256, headers }).slice(0, 16);
  const cache = ipxeCacheDir(options.cacheDir);
  const tree = join(makeSafe(cache), 'trees', treeKey);
  const outDir = resolve(options.out ?? 'ipxe-out');
  mkdirSync(tree, { recursive: true });
  mkdirSync(outDir, { recursive: true });

  const results: Partial<Record<IpxeTarget, TargetResult>> = {};
  const files: ManifestFile[] = [];
  let version = '';
  for (const target of targets) {
    const cross = crossPrefix(target);
    const outKey = digest({ treeKey, target, cross, script, trust: roots.map((r) => r.pem) }).slice(0, 24);
    const cached = join(cache, 'outputs', outKey);
    const started = Date.now();
    let result: TargetResult;
    if (hasAll(cached, target)) {
      result = { cache: 'hit', compiled: 0, seconds: 0, waitedSeconds: 0 };
    } else {
      const release = await acquireLock(join(tree, makeLockName(target)), () => event({ type: 'step', text: `${target}: waiting for another build in ${tree}` }));
      const waitedSeconds = (Date.now() - started) / 1000;
      try {
        // Another process may have built the same inputs while this one waited.
        if (hasAll(cached, target)) result = { cache: 'hit', compiled: 0, seconds: 0, waitedSeconds };
        else result = { ...(await makeTarget({ tree, source, headers, target, cross, outKey, script, roots, cached, jobs: options.jobs, event })), waitedSeconds };
      } finally {
        await release();
      }
    }
    result.seconds = (Date.now() - started) / 1000;
    version = readFileSync(join(cached, 'version'), 'utf8').trim();
    for (const f of TARGET_FILES[target]) {
      copyFileSync(join(cached, f.name), join(outDir, f.name));
      files.push({ name: f.name, target, sha256: sha256File(join(outDir, f.name)), size: statSync(join(outDir, f.name)).size });
    }
    results[target] = result;
    event({ type: 'target-done', target, result });
  }

  const manifest: IpxeManifest = {
    tool: 'netboot ipxe build',
    url,
    ipxe: { version, source: { kind: source.kind, path: source.path, sha256: source.sha256 } },
    files,
    trust: roots.map(({ subject, sha256, source: from, issuer, crossSignedFormOf }) => ({ subject, sha256, source: from, ...(crossSignedFormOf ? { issuer, crossSignedFormOf } : {}) })),
    door: plan.door,
    options: { targets, ocsp, ntp: ntp ?? 'dhcp-option-42', insecureHttp, trustGoogle: options.trustGoogle ?? false },
    script: { sha256: createHash('sha256').update(script).digest('hex') },
  };
  writeFileSync(join(outDir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  return { outDir, manifest, targets: results };
}

/**
 * One make at a time per tree and family: BIOS objects (bin/, util/zbin) and EFI objects
 * (bin-*-efi/, util/elf2efi64, which both EFI targets build) share nothing else, so a BIOS build
 * need not wait for a long EFI one.
 */
function makeLockName(target: IpxeTarget): string {
  return target === 'bios' ? 'make-bios.lock' : 'make-efi.lock';
}

/**
 * iPXE's Makefile touches config/named.h, which nearly every object includes, when a bin dir's
 * .config.list is new: the first build of one target would make every other target's objects
 * stale (seen here: a BIOS relink became a full rebuild after the first EFI build). Each bin dir
 * gets its list (CONFIG empty: one newline, what make writes) up front, older than named.h.
 */
function seedConfigLists(src: string): void {
  const named = join(src, 'config', 'named.h');
  const before = new Date(statSync(named).mtimeMs - 1000);
  for (const target of IPXE_TARGETS) {
    for (const dir of new Set(TARGET_FILES[target].map((f) => dirname(f.goal)))) {
      const list = join(src, dir, '.config.list');
      if (existsSync(list)) continue;
      mkdirSync(join(src, dir), { recursive: true });
      writeFileSync(list, '\n');
      utimesSync(list, before, before);
    }
  }
}

function readCounts(path: string): Partial<Record<IpxeTarget, number>> {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Partial<Record<IpxeTarget, number>>;
  } catch {
    return {};
  }
}

function hasAll(dir: string, target: IpxeTarget): boolean {
  return existsSync(join(dir, 'version')) && TARGET_FILES[target].every((f) => existsSync(join(dir, f.name)));
}

interface MakeTarget {
  tree: string;
  source: IpxeSource;
  headers: Record<string, string>;
  target: IpxeTarget;
  cross: string;
  outKey: string;
  script: string;
  roots: TrustedRoot[];
  cached: string;
  jobs?: number;
  event: (e: BuildEvent) => void;
}

/** Under the target family's lock: extract once (under the tree's own lock), then make the target's goals with this build's inputs. */
async function makeTarget(m: MakeTarget): Promise<Omit<TargetResult, 'waitedSeconds'>> {
  const src = join(m.tree, 'src');
  if (!existsSync(join(m.tree, 'ready'))) {
    const release = await acquireLock(join(m.tree, 'extract.lock'));
    try {
      if (!existsSync(join(m.tree, 'ready'))) {
        m.event({ type: 'step', text: `extracting ${m.source.path} into ${m.tree}` });
        rmSync(src, { recursive: true, force: true });
        await extractSource(m.source, src, m.tree);
        mkdirSync(join(src, 'config', 'local'), { recursive: true });
        for (const [name, text] of Object.entries(m.headers)) writeFileSync(join(src, 'config', 'local', name), text);
        writeFileSync(join(m.tree, 'version'), `${ipxeVersion(src)}\n`);
        writeFileSync(join(m.tree, 'ready'), '');
      }
    } finally {
      await release();
    }
  }

  seedConfigLists(src);

  // Inputs at a path per input set: make sees EMBED/TRUST/CERT change and rebuilds only their objects.
  const inputs = join(m.tree, 'inputs', m.outKey);
  mkdirSync(inputs, { recursive: true });
  writeFileSync(join(inputs, 'boot.ipxe'), m.script);
  const rootFiles = m.roots.map((r, i) => {
    const path = join(inputs, `root-${i + 1}.crt`);
    writeFileSync(path, r.pem);
    return path;
  });

  mkdirSync(join(m.tree, 'logs'), { recursive: true });
  const logPath = join(m.tree, 'logs', `${m.target}-${m.outKey.slice(0, 12)}.log`);
  const log = createWriteStream(logPath);
  const countsPath = join(m.tree, 'counts.json');
  const counts = readCounts(countsPath);
  const expected = counts[m.target] ?? EXPECTED_OBJECTS[m.target];
  let compiled = 0;
  const goals = TARGET_FILES[m.target].map((f) => f.goal);
  m.event({ type: 'step', text: `${m.target}: make ${goals.join(' ')} (log: ${logPath})` });
  const args = [
    `-j${m.jobs ?? availableParallelism()}`,
    ...goals,
    `EMBED=${makeSafe(join(inputs, 'boot.ipxe'))}`,
    `TRUST=${rootFiles.map(makeSafe).join(',')}`,
    `CERT=${rootFiles.join(',')}`,
    ...(m.cross ? [`CROSS=${m.cross}`] : []),
  ];
  log.write(`make ${args.join(' ')}\n`);
  try {
    await run('make', args, {
      cwd: src,
      log,
      onLine: (line) => {
        if (!/^\s*\[BUILD\]/.test(line)) return;
        compiled++;
        m.event({ type: 'compile', target: m.target, compiled, expected });
      },
    });
  } catch (e) {
    if (e instanceof IpxeBuildError && e.kind === 'build') throw new IpxeBuildError(`building ${m.target} failed; make's output: ${logPath}\n${e.message}`, 'build', logPath);
    throw e;
  } finally {
    await new Promise((done) => log.end(done));
  }
  if (compiled > (counts[m.target] ?? 0)) {
    // BIOS and EFI builds may finish at once: re-read, write whole (rename), for the next bar's total.
    writeFileSync(`${countsPath}.${process.pid}`, JSON.stringify({ ...readCounts(countsPath), [m.target]: compiled }));
    renameSync(`${countsPath}.${process.pid}`, countsPath);
  }

  const staging = `${m.cached}.tmp-${process.pid}`;
  mkdirSync(staging, { recursive: true });
  for (const f of TARGET_FILES[m.target]) copyFileSync(join(src, f.goal), join(staging, f.name));
  copyFileSync(join(m.tree, 'version'), join(staging, 'version'));
  rmSync(m.cached, { recursive: true, force: true });
  renameSync(staging, m.cached);
  return { cache: 'built', compiled, seconds: 0, log: logPath };
}
