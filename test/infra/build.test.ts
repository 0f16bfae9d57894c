import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import { unzipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { build, deterministicZip, pruneLockfile, productionManifest, sha256, type BuildResult } from '../../scripts/build';
import { routes } from '../../shared/routes';
import { repoRoot } from './terraform-files';

const rootPkg = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as {
  name: string;
  version: string;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};

// Inside the repository (under the ignored .cache/), so the compiled code resolves node_modules.
let outDir: string;
let result: BuildResult;
let files: Record<string, Uint8Array>;
const text = (name: string) => new TextDecoder().decode(files[name]);

beforeAll(() => {
  mkdirSync(path.join(repoRoot, '.cache'), { recursive: true });
  outDir = mkdtempSync(path.join(repoRoot, '.cache', 'infra-build-'));
  result = build(repoRoot, outDir);
  files = unzipSync(readFileSync(result.archivePath));
}, 120_000);

afterAll(() => rmSync(outDir, { recursive: true, force: true }));

describe('the deployable source archive', () => {
  it('is named by nothing but its content: the recorded hash is the zip SHA-256', () => {
    expect(result.sha256).toBe(sha256(readFileSync(result.archivePath)));
    expect(readFileSync(`${result.archivePath}.sha256`, 'utf8')).toBe(`${result.sha256}  function-source.zip\n`);
  });

  it('is deterministic: the same files give the same bytes', () => {
    const entries = new Map(Object.entries(files));
    const reversed = new Map([...entries].reverse());
    expect(sha256(deterministicZip(entries))).toBe(sha256(deterministicZip(reversed)));
    expect(sha256(deterministicZip(entries))).toBe(result.sha256);
  });

  it('holds the compiled entry module and a production package.json the buildpack accepts', () => {
    const manifest = JSON.parse(text('package.json')) as Record<string, unknown>;
    expect(manifest.main).toBe('dist/functions/index.js');
    expect(files['dist/functions/index.js']).toBeDefined();
    expect(manifest.dependencies).toEqual(rootPkg.dependencies);
    expect(manifest).not.toHaveProperty('devDependencies');
    expect(manifest).not.toHaveProperty('scripts');
    expect(Object.keys(files).filter((f) => !f.startsWith('dist/') && !['package.json', 'package-lock.json'].includes(f))).toEqual([]);
    expect(Object.keys(files).filter((f) => /\.test\.|^dist\/(test|emulators|scripts|bench)\//.test(f))).toEqual([]);
  });

  it('ships a lockfile with the production dependencies and no development-only package', () => {
    const lock = JSON.parse(text('package-lock.json')) as { packages: Record<string, { dev?: boolean; devDependencies?: unknown; dependencies?: unknown }> };
    expect(lock.packages['']?.dependencies).toEqual(rootPkg.dependencies);
    expect(lock.packages['']?.devDependencies).toBeUndefined();
    expect(Object.entries(lock.packages).filter(([, p]) => p.dev)).toEqual([]);
    for (const dep of Object.keys(rootPkg.dependencies)) expect(lock.packages[`node_modules/${dep}`], dep).toBeDefined();
    for (const dev of Object.keys(rootPkg.devDependencies)) {
      if (!(dev in rootPkg.dependencies)) expect(lock.packages[`node_modules/${dev}`]?.dev ?? false, dev).toBe(false);
    }
  });

  it('requires at run time only Node built-ins, its own files and production dependencies', () => {
    const builtins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));
    const bad = new Set<string>();
    for (const [name, content] of Object.entries(files)) {
      if (!name.endsWith('.js')) continue;
      for (const m of new TextDecoder().decode(content).matchAll(/require\("([^"]+)"\)/g)) {
        const spec = m[1] as string;
        if (spec.startsWith('.') || builtins.has(spec)) continue;
        const pkg = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : (spec.split('/')[0] as string);
        if (!(pkg in rootPkg.dependencies)) bad.add(`${name}: ${spec}`);
      }
    }
    expect([...bad]).toEqual([]);
  });

  it('registers every function of the route table under its entry point, and no other', () => {
    const script = `
      require(${JSON.stringify(path.join(outDir, 'functions', 'index.js'))});
      const { getFunction } = require('@google-cloud/functions-framework/testing');
      const names = ${JSON.stringify([...new Set(routes.map((r) => r.fn))])};
      process.stdout.write(JSON.stringify(names.filter((n) => !getFunction(n))));
    `;
    const missing = execFileSync(process.execPath, ['-e', script], { cwd: repoRoot, env: { ...process.env, LOG_LEVEL: 'error' }, encoding: 'utf8' });
    expect(JSON.parse(missing)).toEqual([]);
  });
});

describe('archive helpers', () => {
  it('prunes development-only packages and the root devDependencies from a lockfile', () => {
    const manifest = productionManifest({ name: 'x', version: '1.0.0', dependencies: { a: '^1' }, devDependencies: { d: '^1' }, scripts: { build: 'tsc' } });
    expect(manifest).toEqual({ name: 'x', version: '1.0.0', private: true, main: 'dist/functions/index.js', engines: { node: '>=20' }, dependencies: { a: '^1' } });
    const pruned = pruneLockfile(
      {
        lockfileVersion: 3,
        packages: {
          '': { name: 'x', dependencies: { a: '^1' }, devDependencies: { d: '^1' } },
          'node_modules/a': { version: '1.0.0' },
          'node_modules/d': { version: '1.0.0', dev: true },
          'node_modules/o': { version: '1.0.0', devOptional: true },
        },
      },
      manifest,
    );
    expect(pruned.packages).toEqual({
      '': { name: 'x', version: '1.0.0', dependencies: { a: '^1' } },
      'node_modules/a': { version: '1.0.0' },
      'node_modules/o': { version: '1.0.0', optional: true },
    });
  });
});
