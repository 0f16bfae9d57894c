/**
 * `npm run build`: compiles the functions to dist/ and packs the one deployable source
 * archive, dist/function-source.zip, that every Cloud Function is built from.
 *
 * - Compiles exactly what functions/index.ts reaches (TypeScript's own compiler, the
 *   project's tsconfig), to dist/functions/index.js and dist/shared/...; fails on any
 *   type error.
 * - Each module's imports are loaded on first use (`lazyRequires`), so an instance loads
 *   only the modules its function's requests reach (README, "Cold start").
 * - The archive holds that JavaScript, a package.json with the production dependencies
 *   only (no scripts, so the Node.js buildpack runs no build step, `main` pointing at
 *   dist/functions/index.js) and a package-lock.json pruned to those dependencies, so the
 *   buildpack's `npm ci` installs the exact versions tested here.
 * - The zip is deterministic (sorted entries, fixed timestamps): the same sources give
 *   the same bytes. Terraform names the uploaded object after the archive's SHA-256
 *   (terraform/source_archive.tf), so a changed build redeploys and an unchanged one
 *   does not; dist/function-source.zip.sha256 records the hash.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import { transformSync } from '@babel/core';
// @ts-expect-error -- the plugin ships no type declarations; it is only handed to Babel
import commonJsPlugin from '@babel/plugin-transform-modules-commonjs';
import { zipSync, type Zippable } from 'fflate';
import ts from 'typescript';
import { buildConsole } from './build-console';

export const repoRoot = path.resolve(__dirname, '..');
export const entryModule = 'functions/index.ts';
export const archiveName = 'function-source.zip';

interface PackageJson {
  name: string;
  version: string;
  description?: string;
  engines?: Record<string, string>;
  dependencies?: Record<string, string>;
  [key: string]: unknown;
}

interface LockPackage {
  dev?: boolean;
  devOptional?: boolean;
  optional?: boolean;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  [key: string]: unknown;
}

interface Lockfile {
  lockfileVersion: number;
  packages: Record<string, LockPackage>;
  [key: string]: unknown;
}

/** The package.json the buildpack sees: production dependencies, no scripts, `main` = the entry module. */
export function productionManifest(pkg: PackageJson): PackageJson {
  return {
    name: pkg.name,
    version: pkg.version,
    private: true,
    ...(pkg.description ? { description: pkg.description } : {}),
    main: 'dist/functions/index.js',
    engines: pkg.engines ?? { node: '>=20' },
    dependencies: pkg.dependencies ?? {},
  };
}

/** The lockfile without development-only packages (npm marks them `dev: true`). */
export function pruneLockfile(lock: Lockfile, manifest: PackageJson): Lockfile {
  if (lock.lockfileVersion < 2) throw new Error(`package-lock.json v${lock.lockfileVersion} has no "packages" map; use npm >= 7`);
  const packages: Record<string, LockPackage> = {};
  for (const [key, entry] of Object.entries(lock.packages)) {
    if (key === '') {
      const { devDependencies: _dev, ...root } = entry;
      packages[key] = { ...root, name: manifest.name, version: manifest.version, dependencies: manifest.dependencies ?? {} };
      continue;
    }
    if (entry.dev) continue;
    if (entry.devOptional) {
      // Needed in production only as an optional dependency.
      const { devOptional: _d, ...rest } = entry;
      packages[key] = { ...rest, optional: true };
      continue;
    }
    packages[key] = entry;
  }
  return { ...lock, name: manifest.name, version: manifest.version, packages };
}

/** A zip whose bytes depend only on the entries: sorted names, one fixed timestamp. */
export function deterministicZip(files: Map<string, Uint8Array>): Uint8Array {
  // DOS time has no time zone; fflate reads local fields, so build the date from local fields too.
  const mtime = new Date(1980, 0, 1, 0, 0, 0);
  const tree: Zippable = {};
  for (const name of [...files.keys()].sort()) {
    tree[name] = [files.get(name) as Uint8Array, { mtime, level: 9 }];
  }
  return zipSync(tree, { mtime });
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Compiles what the entry module reaches into `outDir`; returns the absolute paths of the emitted files. */
export function compile(root: string, outDir: string): string[] {
  const configPath = path.join(root, 'tsconfig.json');
  const read = ts.readConfigFile(configPath, (p) => ts.sys.readFile(p));
  if (read.error) throw new Error(ts.flattenDiagnosticMessageText(read.error.messageText, '\n'));
  const parsed = ts.parseJsonConfigFileContent(read.config, ts.sys, root);
  const options: ts.CompilerOptions = {
    ...parsed.options,
    outDir,
    rootDir: root,
    noEmit: false,
    noEmitOnError: true,
    sourceMap: false,
    declaration: false,
    incremental: false,
    listEmittedFiles: true,
    // ES module syntax out of TypeScript, CommonJS with lazy imports out of Babel (lazyRequires).
    module: ts.ModuleKind.ES2022,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
  };
  const program = ts.createProgram([path.join(root, entryModule)], options);
  const writeFile: ts.WriteFileCallback = (fileName, text, bom) => ts.sys.writeFile(fileName, fileName.endsWith('.js') ? lazyRequires(text, fileName) : text, bom);
  const result = program.emit(undefined, writeFile);
  const diagnostics = [...ts.getPreEmitDiagnostics(program), ...result.diagnostics];
  if (diagnostics.length > 0) {
    const host: ts.FormatDiagnosticsHost = { getCanonicalFileName: (f) => f, getCurrentDirectory: () => root, getNewLine: () => '\n' };
    throw new Error(`TypeScript errors:\n${ts.formatDiagnostics(diagnostics, host)}`);
  }
  return (result.emittedFiles ?? []).map((f) => path.resolve(f));
}

const builtins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));

/**
 * The emitted module (ES module syntax) as CommonJS whose imports load on first use: Babel's
 * CommonJS transform with its `lazy` option (`import { X } from './x'` becomes a `_x()` getter
 * that requires `./x` the first time X is used). So requiring a module no longer loads what it
 * imports: a function's module and the root load Firestore, Storage, zod or yaml only when a
 * request first uses them (@google-cloud/firestore alone, which loads google-gax and gRPC, is
 * 0.2-0.4 s). Node built-ins stay eager (they are loaded already); re-exports (`export *`)
 * are eager by nature. Only the built code changes; the sources (tests, the local stack) load
 * as written.
 */
export function lazyRequires(esm: string, fileName = 'module.js'): string {
  const out = transformSync(esm, {
    filename: fileName,
    babelrc: false,
    configFile: false,
    sourceType: 'module',
    compact: false,
    plugins: [[commonJsPlugin, { lazy: (source: string) => !builtins.has(source) }]],
  });
  if (!out?.code) throw new Error(`${fileName}: Babel produced no code`);
  return out.code;
}

export interface BuildResult {
  archivePath: string;
  sha256: string;
  entries: string[];
}

export function build(root = repoRoot, outDir = path.join(root, 'dist')): BuildResult {
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  const emitted = compile(root, outDir);

  const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as PackageJson;
  const lock = JSON.parse(readFileSync(path.join(root, 'package-lock.json'), 'utf8')) as Lockfile;
  const manifest = productionManifest(pkg);
  const files = new Map<string, Uint8Array>();
  const json = (value: unknown) => new TextEncoder().encode(`${JSON.stringify(value, null, 2)}\n`);
  files.set('package.json', json(manifest));
  files.set('package-lock.json', json(pruneLockfile(lock, manifest)));
  for (const file of emitted) {
    files.set(`dist/${path.relative(outDir, file).split(path.sep).join('/')}`, readFileSync(file));
  }
  // The console's built files (npm run build:console) as dist/console/, which the consoleAssets function serves.
  const consoleDir = path.join(root, 'console/dist');
  if (existsSync(path.join(consoleDir, 'index.html'))) {
    for (const name of readdirSync(consoleDir)) if (/^(index\.html|[a-z]+-[A-Z0-9]{8}\.(js|css))$/.test(name)) files.set(`dist/console/${name}`, readFileSync(path.join(consoleDir, name)));
  }
  if (!files.has(manifest.main as string)) throw new Error(`the archive lacks its entry module ${String(manifest.main)}`);

  const zip = deterministicZip(files);
  const hash = sha256(zip);
  const archivePath = path.join(outDir, archiveName);
  writeFileSync(archivePath, zip);
  writeFileSync(`${archivePath}.sha256`, `${hash}  ${archiveName}\n`);
  return { archivePath, sha256: hash, entries: [...files.keys()].sort() };
}

if (require.main === module) {
  // The console first: its files go into the archive (functions/console/assets.ts serves them).
  void buildConsole().then(() => {
    const result = build();
    process.stdout.write(`${path.relative(repoRoot, result.archivePath)}: ${result.entries.length} files, sha256 ${result.sha256}\n`);
  });
}
