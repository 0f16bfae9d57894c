#!/usr/bin/env node
/* global require, process, __dirname */
// The `netboot` command (package.json "bin"). Start-up (docs/cli.md "Start-up"): it runs a
// CommonJS bundle of cli/main.ts that esbuild (a devDependency) makes in .cache/cli/, rebuilt
// when any file it was built from (cli/*, shared/ipxe/*, package-lock.json) is newer, with
// Node's on-disk compile cache beside it; no tsx, no TypeScript transform at run time. If the
// bundle cannot be built (no esbuild) or NETBOOT_NO_BUNDLE=1, it loads cli/main.ts through tsx
// as before. The bundle sits two directories below the checkout, as cli/ipxe/ does, so
// cli/ipxe/source.ts's `__dirname`-relative path means the same thing in both.
'use strict';
/* eslint-disable @typescript-eslint/no-require-imports */
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const cacheDir = path.join(root, '.cache', 'cli');
const bundle = path.join(cacheDir, 'netboot.cjs');
const inputsFile = path.join(cacheDir, 'inputs.json');

/** The bundle exists and no file it was built from changed since. */
function fresh() {
  let built;
  let inputs;
  try {
    built = fs.statSync(bundle).mtimeMs;
    inputs = JSON.parse(fs.readFileSync(inputsFile, 'utf8'));
  } catch {
    return false;
  }
  if (!Array.isArray(inputs)) return false;
  for (const input of inputs) {
    const stat = fs.statSync(path.join(root, input), { throwIfNoEntry: false });
    if (!stat || stat.mtimeMs > built) return false;
  }
  return true;
}

/** Builds the bundle (written aside, then renamed: concurrent runs never read half a file). */
function build() {
  const esbuild = require('esbuild');
  const tmp = `${bundle}.${process.pid}.tmp`;
  fs.mkdirSync(cacheDir, { recursive: true });
  const result = esbuild.buildSync({
    entryPoints: [path.join(__dirname, 'main.ts')],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    outfile: tmp,
    metafile: true,
    logLevel: 'silent',
    legalComments: 'none',
    // Smaller to read and compile (600 KB, not 1.1 MB); names kept for error classes and stacks.
    minify: true,
    keepNames: true,
  });
  const inputs = Object.keys(result.metafile.inputs).filter((f) => !f.startsWith('node_modules/'));
  inputs.push('package-lock.json');
  fs.writeFileSync(`${inputsFile}.${process.pid}.tmp`, JSON.stringify(inputs));
  fs.renameSync(`${inputsFile}.${process.pid}.tmp`, inputsFile);
  fs.renameSync(tmp, bundle);
}

function load() {
  if (process.env.NETBOOT_NO_BUNDLE !== '1') {
    try {
      if (!fresh()) build();
      // Node >= 22.1: V8's code cache on disk, so later runs skip compiling the bundle.
      require('node:module').enableCompileCache?.(path.join(cacheDir, 'compile-cache'));
      return require(bundle);
    } catch (e) {
      if (process.env.NETBOOT_DEBUG) process.stderr.write(`netboot: no bundle (${e && e.message}); loading cli/main.ts through tsx\n`);
    }
  }
  require('tsx/cjs');
  return require('./main.ts');
}

load()
  .main(process.argv)
  .then((code) => {
    process.exitCode = code;
  });
