// iPXE's source: the release tarball or a checkout, its digest (the cache key) and its version.
import { createHash } from 'node:crypto';
import { cpSync, existsSync, readFileSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { IpxeBuildError } from './errors';
import { run } from './run';

export interface IpxeSource {
  kind: 'tarball' | 'directory';
  path: string;
  /** SHA-256 of the tarball file, or of the source tree's files (path and content, sorted). */
  sha256: string;
}

/** The tarball the tests and CI build from (upstream's v2.0.0, unchanged; ../shared/vendor/README.md). */
export const VENDORED_TARBALL = resolve(__dirname, '../../../shared/vendor/ipxe-2.0.0.tar.gz');

/** A checkout's source directory (the one holding the Makefile and config/): DIR/src or DIR itself. */
function srcDirOf(dir: string): string | undefined {
  for (const d of [join(dir, 'src'), dir]) if (existsSync(join(d, 'Makefile')) && existsSync(join(d, 'config', 'general.h'))) return d;
  return undefined;
}

/** Build products and VCS data are not source: a used checkout digests as a clean one. */
const notSource = (rel: string) => rel === '.git' || rel.startsWith('.git/') || /^bin(-[^/]*)?(\/|$)/.test(rel) || rel.startsWith('config/local/');

function* sourceFiles(root: string, dir = root): Generator<string> {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, e.name);
    const rel = relative(root, path);
    if (notSource(rel)) continue;
    if (e.isDirectory()) yield* sourceFiles(root, path);
    else if (e.isFile()) yield rel;
  }
}

export function sha256File(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/** `--source` resolved (default: the vendored tarball when it is there) and digested. */
export function resolveSource(raw: string | undefined): IpxeSource {
  const path = raw ? resolve(raw) : existsSync(VENDORED_TARBALL) ? VENDORED_TARBALL : undefined;
  if (!path) throw new IpxeBuildError(`--source is required (no vendored tarball at ${VENDORED_TARBALL}): upstream's release tarball or a checkout of github.com/ipxe/ipxe`, 'usage');
  if (!existsSync(path)) throw new IpxeBuildError(`--source ${path}: no such file or directory`, 'usage');
  if (statSync(path).isDirectory()) {
    const src = srcDirOf(path);
    if (!src) throw new IpxeBuildError(`--source ${path}: not an iPXE source tree (no src/Makefile and src/config/general.h)`, 'usage');
    const hash = createHash('sha256');
    for (const rel of [...sourceFiles(src)].sort()) hash.update(`${rel}\0`).update(readFileSync(join(src, rel))).update('\0');
    return { kind: 'directory', path: src, sha256: hash.digest('hex') };
  }
  if (!/\.(tar\.gz|tgz|tar\.xz|tar\.bz2|tar)$/.test(path)) throw new IpxeBuildError(`--source ${path}: expected a directory or a tarball (.tar.gz)`, 'usage');
  return { kind: 'tarball', path, sha256: sha256File(path) };
}

/** Puts the source's `src` directory at `dest` (which must not exist yet). */
export async function extractSource(source: IpxeSource, dest: string, scratchParent: string): Promise<void> {
  if (source.kind === 'directory') {
    cpSync(source.path, dest, { recursive: true, filter: (p) => !notSource(relative(source.path, p)) || p === source.path });
    return;
  }
  const scratch = await mkdtemp(join(scratchParent, 'extract-'));
  try {
    await run('tar', ['-xf', source.path, '-C', scratch]);
    const top = readdirSync(scratch).map((d) => join(scratch, d));
    const src = top.map(srcDirOf).find((d) => d !== undefined) ?? srcDirOf(scratch);
    if (!src) throw new IpxeBuildError(`--source ${source.path}: no iPXE src/Makefile inside the tarball`, 'usage');
    renameSync(src, dest);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** `2.0.0` from src/Makefile (VERSION_MAJOR.MINOR.PATCH and EXTRAVERSION). */
export function ipxeVersion(srcDir: string): string {
  const mk = readFileSync(join(srcDir, 'Makefile'), 'utf8');
  const v = (name: string) => new RegExp(`^${name}\\s*:=[ \\t]*(\\S*)`, 'm').exec(mk)?.[1] ?? '';
  return `${v('VERSION_MAJOR')}.${v('VERSION_MINOR')}.${v('VERSION_PATCH')}${v('EXTRAVERSION')}`;
}
