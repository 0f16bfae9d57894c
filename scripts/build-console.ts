/**
 * `npm run build:console`: the console (console/src, Preact) bundled by esbuild into
 * console/dist: one JavaScript and one CSS file named by their content hash (cached for good
 * by browsers), and index.html naming them (never cached). `npm start` and the console tests
 * call ensureConsoleBuilt(), which builds only when a source is newer than the last build.
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { build } from 'esbuild';

export const consoleDir = resolve(__dirname, '../console');
export const consoleDist = join(consoleDir, 'dist');
const stamp = join(consoleDist, '.built');

export interface ConsoleBuild {
  js: string;
  css: string;
  /** Every JavaScript file: the entry and the chunks it loads on demand. */
  scripts: string[];
  /** Bytes of the entry's JavaScript as served (minified, before compression). */
  jsBytes: number;
}

export async function buildConsole(): Promise<ConsoleBuild> {
  mkdirSync(consoleDist, { recursive: true });
  const result = await build({
    entryPoints: [join(consoleDir, 'src/main.tsx')],
    bundle: true,
    minify: true,
    format: 'esm',
    target: ['chrome120', 'firefox120', 'safari17'],
    jsx: 'automatic',
    jsxImportSource: 'preact',
    outdir: consoleDist,
    entryNames: '[name]-[hash]',
    // Code loaded on first use (the upload code and its hash-wasm) in chunks of its own.
    splitting: true,
    chunkNames: '[name]-[hash]',
    metafile: true,
    legalComments: 'none',
    logLevel: 'warning',
    sourcemap: false,
  });
  const outputs = Object.keys(result.metafile.outputs).map((p) => relative(consoleDist, resolve(p)));
  const entry = Object.entries(result.metafile.outputs).find(([, o]) => o.entryPoint && o.cssBundle !== undefined) ?? Object.entries(result.metafile.outputs).find(([, o]) => o.entryPoint);
  const js = entry && relative(consoleDist, resolve(entry[0]));
  const css = outputs.find((p) => p.endsWith('.css'));
  if (!js || !css) throw new Error(`esbuild wrote ${outputs.join(', ')}: no JS or CSS`);
  // The chunks the entry imports statically, fetched beside it rather than after it.
  const preloads = (entry?.[1].imports ?? []).filter((i) => i.kind === 'import-statement').map((i) => `<link rel="modulepreload" href="./${relative(consoleDist, resolve(i.path))}" />`);
  const html = readFileSync(join(consoleDir, 'index.html'), 'utf8').replace('{{js}}', js).replace('{{css}}', css).replace('<!--{{preloads}}-->', preloads.join('\n    '));
  const tmp = join(consoleDist, `.index.${process.pid}.html`);
  writeFileSync(tmp, html);
  renameSync(tmp, join(consoleDist, 'index.html'));
  // Older hashed files go: only what index.html names is served.
  for (const name of readdirSync(consoleDist)) if (/-[A-Z0-9]{8}\.(js|css)$/.test(name) && !outputs.includes(name)) rmSync(join(consoleDist, name), { force: true });
  writeFileSync(stamp, JSON.stringify({ js, css }));
  const scripts = outputs.filter((p) => p.endsWith('.js'));
  return { js, css, scripts, jsBytes: statSync(join(consoleDist, js)).size };
}

function newestSource(dir = consoleDir): number {
  let newest = statSync(__filename).mtimeMs;
  const walk = (d: string) => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      if (entry.name === 'dist') continue;
      const p = join(d, entry.name);
      if (entry.isDirectory()) walk(p);
      else newest = Math.max(newest, statSync(p).mtimeMs);
    }
  };
  walk(dir);
  return newest;
}

/** Builds when console/dist is missing or older than a source file. */
export async function ensureConsoleBuilt(): Promise<void> {
  let built = 0;
  try {
    built = statSync(stamp).mtimeMs;
    statSync(join(consoleDist, 'index.html'));
  } catch {
    built = 0;
  }
  if (built >= newestSource()) return;
  await buildConsole();
}

if (require.main === module) {
  buildConsole()
    .then((b) => process.stderr.write(`console built: console/dist/index.html, ${b.js} (${b.jsBytes} bytes), ${b.css}\n`))
    .catch((err: unknown) => {
      process.stderr.write(`build:console failed: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    });
}
