// Bench step: how long `netboot machine list` takes from process start to exit against a local
// stack, side by side with `node -e 0` (the floor: Node's own start-up), as `node cli/netboot.js`
// (the bundle, docs/cli.md "Start-up"), through tsx (NETBOOT_NO_BUNDLE=1, how it ran before) and
// as `npx netboot` (npm's own start-up on top). Runs are interleaved (one of each per round) so
// that load from elsewhere falls on all of them alike; CPU time (user+sys, from /usr/bin/time)
// is reported beside wall time because it moves less with the machine's load.
//
// Standalone: NETBOOT_URL=http://localhost:8080 NETBOOT_TOKEN=$(npm run --silent admin-token) npx tsx bench/cli-start.ts [ROUNDS]
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(__dirname, '..');
const launcher = join(root, 'cli/netboot.js');
const TIME = '/usr/bin/time';

export interface StartVariant {
  name: string;
  command: string;
  wallMs: number[];
  cpuMs: number[];
  medianWallMs: number;
  medianCpuMs: number | null;
}

export interface CliStartResult {
  rounds: number;
  loadAverageAtStart: string;
  variants: StartVariant[];
  method: string;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  return n === 0 ? NaN : n % 2 ? (s[(n - 1) / 2] as number) : ((s[n / 2 - 1] as number) + (s[n / 2] as number)) / 2;
};

/** One run: wall time from spawn to exit; CPU time of the process tree from /usr/bin/time when there is one. */
function runOnce(argv: string[], env: NodeJS.ProcessEnv, dir: string): Promise<{ wallMs: number; cpuMs?: number; code: number | null; stderr: string }> {
  const timed = existsSync(TIME);
  const out = join(dir, 'time.txt');
  const [cmd, ...args] = timed ? [TIME, '-f', '%U %S', '-o', out, ...argv] : argv;
  return new Promise((done, reject) => {
    const began = process.hrtime.bigint();
    const child = spawn(cmd as string, args, { env, cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const wallMs = Number(process.hrtime.bigint() - began) / 1e6;
      let cpuMs: number | undefined;
      if (timed) {
        const m = /([\d.]+) ([\d.]+)\s*$/.exec(readFileSync(out, 'utf8'));
        if (m) cpuMs = (Number(m[1]) + Number(m[2])) * 1000;
      }
      done({ wallMs, cpuMs, code, stderr });
    });
  });
}

export async function measureCliStart(url: string, token: string, rounds = 9): Promise<CliStartResult> {
  const dir = mkdtempSync(join(tmpdir(), 'netboot-cli-start-'));
  const env = { ...process.env, NETBOOT_URL: url, NETBOOT_TOKEN: token, NETBOOT_NO_BUNDLE: undefined };
  const variants: { name: string; command: string; argv: string[]; env: NodeJS.ProcessEnv }[] = [
    { name: 'node -e 0 (floor)', command: 'node -e 0', argv: [process.execPath, '-e', '0'], env },
    { name: 'netboot machine list (bundle)', command: 'node cli/netboot.js machine list', argv: [process.execPath, launcher, 'machine', 'list'], env },
    { name: 'netboot machine list (tsx, NETBOOT_NO_BUNDLE=1)', command: 'NETBOOT_NO_BUNDLE=1 node cli/netboot.js machine list', argv: [process.execPath, launcher, 'machine', 'list'], env: { ...env, NETBOOT_NO_BUNDLE: '1' } },
    { name: 'npx netboot machine list (npm on the system Node, then the bundle)', command: 'npx netboot machine list', argv: ['npx', 'netboot', 'machine', 'list'], env },
  ];
  // An older checkout's launcher beside them (BENCH_CLI_BASELINE=/path/to/old/cli/netboot.js), for a before/after.
  const baseline = process.env.BENCH_CLI_BASELINE;
  if (baseline) variants.splice(2, 0, { name: 'netboot machine list (BENCH_CLI_BASELINE)', command: `node ${baseline} machine list`, argv: [process.execPath, baseline, 'machine', 'list'], env });
  try {
    // Warm-up: builds the bundle if it is stale and fills the compile cache (what a user's second run sees).
    for (const v of variants) {
      const r = await runOnce(v.argv, v.env, dir);
      if (r.code !== 0) throw new Error(`${v.command} exited ${r.code}: ${r.stderr.trim().slice(0, 300)}`);
    }
    const samples = variants.map(() => ({ wall: [] as number[], cpu: [] as number[] }));
    for (let round = 0; round < rounds; round++) {
      // Rotate the order each round so no variant always runs first after the pause.
      for (let k = 0; k < variants.length; k++) {
        const i = (k + round) % variants.length;
        const v = variants[i] as (typeof variants)[number];
        const r = await runOnce(v.argv, v.env, dir);
        if (r.code !== 0) throw new Error(`${v.command} exited ${r.code}: ${r.stderr.trim().slice(0, 300)}`);
        samples[i]?.wall.push(r.wallMs);
        if (r.cpuMs !== undefined) samples[i]?.cpu.push(r.cpuMs);
      }
    }
    return {
      rounds,
      loadAverageAtStart: readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' '),
      method: 'process start to exit (spawn to close) of each command, one of each per round in rotating order, after one warm-up run each; CPU = user+sys of the process tree (/usr/bin/time)',
      variants: variants.map((v, i) => ({
        name: v.name,
        command: v.command,
        wallMs: (samples[i]?.wall ?? []).map((x) => Math.round(x)),
        cpuMs: (samples[i]?.cpu ?? []).map((x) => Math.round(x)),
        medianWallMs: Math.round(median(samples[i]?.wall ?? [])),
        medianCpuMs: samples[i]?.cpu.length ? Math.round(median(samples[i]?.cpu ?? [])) : null,
      })),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function cliStartLines(r: CliStartResult): string[] {
  const floor = r.variants[0];
  return [
    `   median of ${r.rounds} runs each, interleaved; load average at start ${r.loadAverageAtStart}`,
    ...r.variants.map(
      (v) =>
        `   ${v.name.padEnd(68)} wall ${String(v.medianWallMs).padStart(5)} ms  cpu ${v.medianCpuMs === null ? '  n/a' : String(v.medianCpuMs).padStart(5)} ms${floor && v !== floor ? `  (+${v.medianWallMs - floor.medianWallMs} ms wall over node -e 0)` : ''}`,
    ),
  ];
}

if (require.main === module) {
  const url = process.env.NETBOOT_URL;
  const token = process.env.NETBOOT_TOKEN;
  if (!url || !token) {
    process.stderr.write('set NETBOOT_URL and NETBOOT_TOKEN (a running npm start)\n');
    process.exit(2);
  }
  void measureCliStart(url, token, Number(process.argv[2] ?? 9)).then((r) => {
    process.stdout.write(`${cliStartLines(r).join('\n')}\n`);
    if (process.argv.includes('--json')) process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
  });
}
