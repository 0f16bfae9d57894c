/**
 * The documentation runs. Every shell block in README.md and docs/ is executed against a fresh
 * local stack (the real `npm start`, one per document that addresses it), in the order of the
 * page, in one bash session per page, so a changed flag, route or output breaks this test rather
 * than a reader.
 *
 * Blocks are marked in their info string (docs/development.md "Examples that run"):
 *   ```sh                runs
 *   ```sh setup          not run: what the harness itself does (npm ci, npm start, npm test)
 *   ```sh cloud          not run: needs a deployment (gcloud, terraform apply, a real gateway)
 *   ```sh lab            not run: a by-hand lab (root on a real boot network, a server left running,
 *                        the internet); the e2e test the page names does the same steps in code
 *   ```sh guest          not run here: runs on the machine being booted (its kernel command line)
 *   ```sh download       not run: needs the internet; the harness provides the same files
 *                        offline (OFFLINE_SUBSTITUTES below, from what the QEMU tests prepare)
 *   ```text output       checked: each line appears in the previous block's stdout, in order
 *                        (`...` matches anything within a line)
 * `localhost:8080` and `10.0.2.2:8080` (the default port) are rewritten to the stack's port.
 *
 * `npx netboot ...` in a page runs this package's bin directly (a shell function, see
 * npxShortcut), as docs/cli.md "Start-up" advises for scripts: npm's exec spends about 1.5 s of
 * CPU per call finding the bin (42 calls here). One test still runs the real `npx netboot`.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import path from 'node:path';
import { marked, type Tokens } from 'marked';
import { afterAll, describe, expect, it, onTestFinished } from 'vitest';
import { cleanOutput, prepareE2eAssets } from './e2e/qemu';

const root = path.resolve(__dirname, '..');
const SHELLS = new Set(['sh', 'bash', 'shell']);
const NOT_RUN = new Set(['setup', 'cloud', 'download', 'guest', 'lab']);

interface Block {
  lang: string;
  tags: string[];
  text: string;
  line: number;
}

interface Page {
  file: string;
  blocks: Block[];
}

function markdownFiles(): string[] {
  const files = ['README.md'];
  const walk = (dir: string): void => {
    for (const name of readdirSync(path.join(root, dir)).sort()) {
      const rel = path.join(dir, name);
      if (statSync(path.join(root, rel)).isDirectory()) walk(rel);
      else if (name.endsWith('.md')) files.push(rel);
    }
  };
  walk('docs');
  return files;
}

function readPage(file: string): Page {
  const source = readFileSync(path.join(root, file), 'utf8');
  const blocks: Block[] = [];
  let offset = 0;
  marked.walkTokens(marked.lexer(source), (token) => {
    if (token.type !== 'code' || (token as Tokens.Code).codeBlockStyle === 'indented') return;
    const code = token as Tokens.Code;
    const at = source.indexOf(code.raw, offset);
    offset = at + code.raw.length;
    const info = code.raw.split('\n')[0]?.replace(/^\s*(`{3,}|~{3,})/, '').trim() ?? '';
    const [lang = '', ...tags] = info.split(/\s+/);
    blocks.push({ lang, tags, text: code.text, line: source.slice(0, at).split('\n').length });
  });
  return { file, blocks };
}

const pages = markdownFiles().map(readPage);

/** This package's commands, name to file (package.json "bin"): what `npx NAME` runs in the checkout. */
function packageBins(): Record<string, string> {
  const bin = (JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { bin?: Record<string, string> }).bin ?? {};
  return Object.fromEntries(Object.entries(bin).map(([name, file]) => [name, path.join(root, file)]));
}

/** Where npm's exec puts the checkout's installed commands, first on PATH (node: the pinned Node). */
const localBinDir = path.join(root, 'node_modules/.bin');

const shellQuote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * A bash function `npx` that runs this package's own commands as npm's exec ends up running them
 * (the file itself, by its #! line, with node_modules/.bin first on PATH) and hands anything else
 * to the real npx.
 */
function npxShortcut(bins: Record<string, string>): string {
  const cases = Object.entries(bins).map(([name, file]) => `    ${shellQuote(name)}) shift; PATH=${shellQuote(localBinDir)}:"$PATH" ${shellQuote(file)} "$@" ;;`);
  return ['npx() {', '  case "$1" in', ...cases, '    *) command npx "$@" ;;', '  esac', '}'].join('\n');
}

function isShell(block: Block): boolean {
  return SHELLS.has(block.lang);
}

function runs(block: Block): boolean {
  return isShell(block) && !block.tags.some((t) => NOT_RUN.has(t));
}

/**
 * Offline stand-ins for `download` blocks, keyed by the block's first line: each defines what
 * the block would (variables, files) from what scripts/e2e/prepare.sh caches.
 */
const OFFLINE_SUBSTITUTES: Record<string, (assets: { kernelPath: string; initrdPath: string }) => string> = {
  'IMAGES=~/netboot-images; mkdir -p $IMAGES': (a) =>
    `IMAGES=~/netboot-images; mkdir -p $IMAGES\ncp ${a.kernelPath} $IMAGES/linux && cp ${a.initrdPath} $IMAGES/initrd.gz`,
};

const BEGIN = (i: number) => `@@docs-block-${i}-begin@@`;
const END = (i: number) => `@@docs-block-${i}-end@@`;

/** The stack's address as the pages write it (npm start's default port). */
const DEFAULT_ADDRESS = /\b(localhost|127\.0\.0\.1|10\.0\.2\.2):8080\b/;

function withPort(text: string, port: string): string {
  return text.replace(new RegExp(DEFAULT_ADDRESS, 'g'), `$1:${port}`);
}

/** The page as one bash script; each runnable block's stdout between markers. */
function pageScript(page: Page, port: string, assets: { kernelPath: string; initrdPath: string } | undefined): string {
  const parts = ['set -eo pipefail', npxShortcut(packageBins())];
  page.blocks.forEach((block, i) => {
    if (!isShell(block)) return;
    let text: string | undefined;
    if (block.tags.includes('download')) {
      const substitute = OFFLINE_SUBSTITUTES[block.text.split('\n')[0] ?? ''];
      if (substitute && assets) text = substitute(assets);
    } else if (runs(block)) {
      text = block.text;
    }
    if (text === undefined) return;
    parts.push(`printf '\\n${BEGIN(i)}\\n'`, withPort(text, port), `printf '\\n${END(i)}\\n'`);
  });
  return `${parts.join('\n')}\n`;
}

/** Each pattern line must match some later output line, in order; `...` matches anything. */
export function unmatchedPatterns(output: string, expected: string): string[] {
  const lines = cleanOutput(output).split('\n');
  let at = 0;
  const missing: string[] = [];
  for (const pattern of expected.split('\n').filter((l) => l.trim() !== '' && l.trim() !== '...')) {
    const re = new RegExp(`^${pattern.split('...').map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
    const found = lines.findIndex((l, i) => i >= at && re.test(l));
    if (found < 0) missing.push(pattern);
    else at = found + 1;
  }
  return missing;
}

interface Stack {
  child: ChildProcess;
  url: string;
}

/** `<!-- docs-test: npm start -- ARGS -->` in a page: its stack starts with those arguments (e.g. --tls). */
function stackArgs(page: Page): string[] {
  const m = /<!-- docs-test: npm start -- ([^>]*?) -->/.exec(readFileSync(path.join(root, page.file), 'utf8'));
  return m ? (m[1] as string).split(/\s+/) : [];
}

/**
 * Whether a page can reach a stack at all: it finds one only by the default address (rewritten to
 * the stack's free port) or asks for one started differently. Pages that do neither (building
 * iPXE, checking Terraform) get none: a start costs about 3 s of CPU.
 */
function usesStack(page: Page): boolean {
  return stackArgs(page).length > 0 || page.blocks.some((block) => DEFAULT_ADDRESS.test(block.text));
}

async function npmStart(dataDir: string, extraArgs: string[] = []): Promise<Stack> {
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: '0', LOG_LEVEL: 'warn' };
  for (const name of ['FIRESTORE_EMULATOR_HOST', 'STORAGE_EMULATOR_HOST', 'GOOGLE_CLOUD_PROJECT', 'BLOB_BUCKET', 'NETBOOT_URL', 'NETBOOT_TOKEN']) Reflect.deleteProperty(env, name);
  const child = spawn('npm', ['start', '--silent', '--', '--data', dataDir, ...extraArgs], { cwd: root, env, stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const deadline = Date.now() + 60_000;
  let url: string | undefined;
  while (!url && Date.now() < deadline && child.exitCode === null) {
    url = /listening on (https?:\/\/\S+)/.exec(stderr)?.[1];
    if (!url) await new Promise((r) => setTimeout(r, 100));
  }
  if (!url) throw new Error(`npm start did not come up:\n${stderr}`);
  return { child, url };
}

async function stopStack(stack: Stack): Promise<void> {
  if (stack.child.exitCode !== null) return;
  process.kill(-(stack.child.pid as number), 'SIGTERM');
  await once(stack.child, 'exit');
}

const scratch = mkdtempSync(path.join(tmpdir(), 'netboot-docs-'));
/**
 * Stacks being stopped. A stack takes about 2 s to exit after SIGTERM, nearly all of it waiting
 * (no CPU), so the next page starts meanwhile; the file ends only once every stack has exited.
 */
const stopping: Promise<void>[] = [];
afterAll(async () => {
  await Promise.all(stopping);
  rmSync(scratch, { recursive: true, force: true });
});

describe('documentation', () => {
  it('the generated references are current (npm run generate)', () => {
    // In a process of its own: the CLI loads some command definitions lazily, by require.
    const check = spawnSync(path.join(root, 'node_modules/.bin/tsx'), ['scripts/generate-docs.ts', '--check'], { cwd: root, encoding: 'utf8' });
    expect(check.stderr).toBe('');
    expect(check.status).toBe(0);
  }, 120_000);

  it('every fenced shell block carries only known marks, and every output block follows a block that runs', () => {
    const problems: string[] = [];
    for (const page of pages) {
      page.blocks.forEach((block, i) => {
        const where = `${page.file}:${block.line}`;
        if (isShell(block)) {
          for (const tag of block.tags) if (!NOT_RUN.has(tag)) problems.push(`${where}: unknown mark "${tag}" (known: ${[...NOT_RUN].join(', ')})`);
          if (block.tags.includes('download') && !OFFLINE_SUBSTITUTES[block.text.split('\n')[0] ?? '']) problems.push(`${where}: a download block without an offline substitute in test/docs.test.ts`);
        }
        if (block.lang === 'text' && block.tags.includes('output')) {
          const previous = page.blocks[i - 1];
          if (!previous || !(runs(previous) || previous.tags.includes('download'))) problems.push(`${where}: an output block must follow a shell block that runs`);
        }
      });
    }
    expect(problems).toEqual([]);
  });

  it('links between the pages point at files that exist', () => {
    const broken: string[] = [];
    for (const page of pages) {
      const source = readFileSync(path.join(root, page.file), 'utf8');
      for (const m of source.matchAll(/\]\(([^)\s]+)\)/g)) {
        const target = (m[1] as string).split('#')[0] as string;
        if (target === '' || /^[a-z]+:/.test(target)) continue;
        if (!existsSync(path.resolve(root, path.dirname(page.file), target))) broken.push(`${page.file}: ${m[1]}`);
      }
    }
    expect(broken).toEqual([]);
  });

  it('`npx netboot` runs the bin the pages\' examples are run with', () => {
    const bin = packageBins().netboot;
    expect(bin).toBeDefined();
    const viaNpx = spawnSync('npx', ['netboot', '--help'], { cwd: root, encoding: 'utf8' });
    const direct = spawnSync(bin as string, ['--help'], { cwd: root, encoding: 'utf8', env: { ...process.env, PATH: `${localBinDir}:${process.env.PATH ?? ''}` } });
    expect(viaNpx.status).toBe(0);
    expect(viaNpx.stdout).toContain('Usage: netboot');
    expect(viaNpx.stdout).toBe(direct.stdout);
  }, 60_000);

  const runnable = pages.filter((page) => page.blocks.some(runs));
  const needsImages = runnable.some((page) => page.blocks.some((b) => b.tags.includes('download')));
  const prepared = needsImages ? prepareE2eAssets() : undefined;
  if (prepared && !prepared.ok) {
    const message = `docs examples that boot QEMU need scripts/e2e/prepare.sh: ${prepared.reason}`;
    if (process.env.CI) throw new Error(`${message} (CI must run them)`);
    process.stderr.write(`SKIP ${message}\n`);
  }
  const assets = prepared?.ok ? prepared.assets : undefined;

  for (const page of runnable) {
    const needsAssets = page.blocks.some((b) => b.tags.includes('download'));
    it.skipIf(needsAssets && !assets)(`${page.file}: every example runs and prints what the page says`, async () => {
      const stack = usesStack(page) ? await npmStart(path.join(scratch, page.file.replace(/\W/g, '_'), 'data'), stackArgs(page)) : undefined;
      try {
        // Without a stack the page names no address, so the port rewrites nothing.
        const port = stack ? new URL(stack.url).port : '8080';
        const home = mkdtempSync(path.join(scratch, 'home-'));
        // A scratch HOME keeps the CLI's state and ~/netboot-images apart from the user's; the
        // iPXE build cache stays the user's (ccache-like, keyed by every input), as in the other tests.
        const ipxeCache = process.env.NETBOOT_IPXE_CACHE ?? path.join(process.env.XDG_CACHE_HOME || path.join(homedir(), '.cache'), 'netboot', 'ipxe');
        const env: NodeJS.ProcessEnv = { ...process.env, HOME: home, NETBOOT_IPXE_CACHE: ipxeCache };
        for (const name of ['NETBOOT_URL', 'NETBOOT_TOKEN', 'FIRESTORE_EMULATOR_HOST', 'STORAGE_EMULATOR_HOST']) Reflect.deleteProperty(env, name);
        // Its own process group, so whatever a block started goes with it when the page ends.
        const child = spawn('bash', ['-c', pageScript(page, port, assets)], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
        onTestFinished(() => {
          try {
            process.kill(-(child.pid as number), 'SIGKILL');
          } catch {
            // already gone
          }
        });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        const [code] = (await once(child, 'exit')) as [number];
        const tail = (s: string) => s.trim().split('\n').slice(-25).join('\n');
        // A failing block names itself: the last block that began and did not end.
        const begun = [...stdout.matchAll(/@@docs-block-(\d+)-begin@@/g)].map((m) => Number(m[1]));
        const failedAt = begun.find((i) => !stdout.includes(END(i)));
        const failedLine = failedAt === undefined ? undefined : page.blocks[failedAt]?.line;
        expect(code, `${page.file}${failedLine ? `:${failedLine}` : ''} failed (exit ${code})\nstdout:\n${tail(stdout)}\nstderr:\n${tail(stderr)}`).toBe(0);
        page.blocks.forEach((block, i) => {
          if (block.lang !== 'text' || !block.tags.includes('output')) return;
          const out = stdout.split(BEGIN(i - 1))[1]?.split(END(i - 1))[0] ?? '';
          expect(unmatchedPatterns(out, withPort(block.text, port)), `${page.file}:${block.line}: output not as the page says\n${tail(out)}`).toEqual([]);
        });
      } finally {
        if (stack) stopping.push(stopStack(stack));
      }
    }, 600_000);
  }
});

// A sanity check of the matcher itself (the page tests depend on it).
describe('output matching', () => {
  it('matches lines in order with ... as a wildcard, and reports what is missing', () => {
    expect(unmatchedPatterns('a\nkernel /asset/x console=ttyS0 y\nz', 'kernel /asset/...console=ttyS0...\nz')).toEqual([]);
    expect(unmatchedPatterns('z\nkernel x', 'kernel ...\nz')).toEqual(['z']);
    expect(unmatchedPatterns('a.b', 'a?b')).toEqual(['a?b']);
  });
});

