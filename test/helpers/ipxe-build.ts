// iPXE builds for tests: `netboot ipxe build`'s module (cli/ipxe/build.ts) with its cache, so each
// set of inputs is built once per run however many test files and vitest workers ask for it: the
// output cache answers repeats in a second, and the work tree's lock makes a second worker wait
// for the first one's make instead of running its own.
//
// A clean build takes minutes (about 2 per target on 2 idle cores, much longer when the machine
// is busy): give the hook that calls ensureIpxeBuild a timeout like IPXE_BUILD_TIMEOUT_MS.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { buildIpxe, IpxeBuildError, type IpxeBuildOptions, type IpxeBuildResult } from '../../cli/ipxe/build';
import { checkToolchain } from '../../cli/ipxe/toolchain';
import { IPXE_TARGETS, parseTarget } from '../../cli/ipxe/targets';

/** For beforeAll hooks around a build that may be clean: three targets on a loaded 2-core machine. */
export const IPXE_BUILD_TIMEOUT_MS = 40 * 60_000;

const PREPARE = resolve(__dirname, '../../scripts/e2e/prepare-ipxe.sh');

/** ok, or why the toolchain is missing after trying to install it (root only). */
export function ipxeToolchain(targets: readonly string[] = IPXE_TARGETS): { ok: true } | { ok: false; reason: string } {
  const parsed = targets.map(parseTarget);
  try {
    checkToolchain(parsed);
    return { ok: true };
  } catch (e) {
    if (!(e instanceof IpxeBuildError)) throw e;
    if (process.getuid?.() !== 0) return { ok: false, reason: `${e.message} (not root: cannot install)` };
  }
  const res = spawnSync('bash', [PREPARE], { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', timeout: 20 * 60_000 });
  if (res.status !== 0) {
    const tail = `${res.stdout ?? ''}${res.stderr ?? ''}`.trim().split('\n').slice(-10).join('\n');
    return { ok: false, reason: `prepare-ipxe.sh failed (${res.error?.message ?? `exit ${res.status}`}):\n${tail}` };
  }
  try {
    checkToolchain(parsed);
    return { ok: true };
  } catch (e) {
    return { ok: false, reason: (e as Error).message };
  }
}

const builds = new Map<string, Promise<IpxeBuildResult>>();

/**
 * A build of these inputs (url, trust, targets, ocsp, ntp...), made at most once per run: the
 * binaries and manifest.json in a directory of this process's own (OUT of IpxeBuildResult).
 * Installs the toolchain with scripts/e2e/prepare-ipxe.sh when running as root; throws when it
 * cannot (a test file decides to skip outside CI; in CI a skip is a failure).
 */
export function ensureIpxeBuild(options: Omit<IpxeBuildOptions, 'out' | 'onEvent'>): Promise<IpxeBuildResult> {
  const key = createHash('sha256').update(JSON.stringify(options)).digest('hex').slice(0, 16);
  let build = builds.get(key);
  if (!build) {
    const toolchain = ipxeToolchain(options.targets?.length ? options.targets : IPXE_TARGETS);
    if (!toolchain.ok) return Promise.reject(new Error(`cannot build iPXE: ${toolchain.reason}`));
    const out = join(tmpdir(), `netboot-ipxe-${process.pid}-${key}`);
    build = buildIpxe({ ...options, out });
    builds.set(key, build);
    build.catch(() => builds.delete(key));
  }
  return build;
}
