// The netboot CLI as a new user meets it (issue 23, "The CLI as good as the console"): it checks
// what it can before reading a byte, names files by their options, speaks its own commands, and
// follows one exit-status table (cli/errors.ts, docs/cli.md "Exit status"). Real CLI processes
// (cli/netboot.js) against the real local stack.
import { spawn, execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintLocalToken } from '../emulators/local-issuer';
import { seededFile } from '../emulators/storage/test-support';
import { aMac } from './helpers/fixtures';
import { runNetboot, type CliRun } from './helpers/cli';
import { useLocalStack } from './helpers/stack';

const KiB = 1024;
const launcher = resolve(__dirname, '../cli/netboot.js');
// A small kernel limit, so "too large" is quick to reach.
const stack = useLocalStack({ KERNEL_MAX_BYTES: String(64 * KiB) });
let token: string;
let dir: string;
/** A 64 GiB sparse file: hashing it would take many minutes; refusing before reading it takes none. */
let huge: string;
/** A FIFO nobody writes to: reading it would block for ever. */
let fifo: string;
let kernel: string;

beforeAll(async () => {
  token = mintLocalToken();
  dir = await mkdtemp(join(tmpdir(), 'netboot-cli-ux-'));
  huge = join(dir, 'initrd-huge.img');
  await writeFile(huge, '');
  await truncate(huge, 64 * 1024 * 1024 * KiB);
  fifo = join(dir, 'initrd.fifo');
  execFileSync('mkfifo', [fifo]);
  kernel = (await seededFile(join(dir, 'vmlinuz'), 'ux-kernel', 4 * KiB)).path;
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

function netboot(args: string[], env: Record<string, string | undefined> = {}): Promise<CliRun> {
  return runNetboot(args, { NETBOOT_URL: stack.url, NETBOOT_TOKEN: token, XDG_STATE_HOME: join(dir, 'state'), ...env });
}

async function addMachine(): Promise<string> {
  const run = await netboot(['machine', 'add', '--mac', aMac()]);
  expect(run.code, run.stderr).toBe(0);
  return run.stdout.trim();
}

/** No file was hashed: profile set prints each file's digest as soon as it has it. */
const hashedNothing = (run: CliRun) => expect(run.stderr).not.toMatch(/sha256 [0-9a-f]{64}/);

describe('netboot profile set checks before reading a byte', () => {
  it('a machine that does not exist: exit 1 at once, the huge initrd never read', async () => {
    const missing = '018c7dbd-c000-7000-8000-fedcba987654';
    const began = Date.now();
    const run = await netboot(['profile', 'set', missing, '--kernel', kernel, '--initrd', huge]);
    expect(run.code, run.stderr).toBe(1);
    expect(run.stderr).toMatch(/\(404 machine-not-found\)/);
    expect(run.stderr).toContain(`no machine ${missing} is registered: \`netboot machine list\` shows the machines`);
    hashedNothing(run);
    expect(Date.now() - began).toBeLessThan(30_000); // hashing 64 GiB takes minutes even alone
  }, 60_000);

  it('a malformed id, a missing, empty, directory or FIFO file: exit 2 naming the option and path; nothing read', async () => {
    const id = await addMachine();
    const empty = join(dir, 'empty');
    await writeFile(empty, '');
    const sub = join(dir, 'a-dir');
    await mkdir(sub, { recursive: true });
    const cases: [string[], RegExp][] = [
      [['not-an-id', '--kernel', kernel, '--initrd', huge], /^netboot: "not-an-id" is not a machine id: give the id `netboot machine add` printed/m],
      [[id, '--kernel', join(dir, 'nope'), '--initrd', huge], /^netboot: --kernel \S+nope: no such file; check the path$/m],
      [[id, '--kernel', empty, '--initrd', huge], /^netboot: --kernel \S+empty is empty \(0 bytes\)/m],
      [[id, '--kernel', sub, '--initrd', huge], /^netboot: --kernel \S+a-dir is a directory/m],
      [[id, '--kernel', kernel, '--initrd', fifo], /^netboot: --initrd \S+initrd\.fifo is not a regular file/m],
      [[id, '--kernel', kernel, '--initrd', kernel, '--arch', 'arm64', kernel, join(dir, 'nope-arm')], /^netboot: --arch arm64 \(initrd\) \S+nope-arm: no such file/m],
      [[id, '--kernel', kernel, '--initrd', huge, '--user-data', join(dir, 'nope.yaml')], /^netboot: --user-data \S+nope\.yaml: no such file/m],
    ];
    const runs = await Promise.all(cases.map(([args]) => netboot(['profile', 'set', ...args])));
    for (const [i, run] of runs.entries()) {
      expect(run.code, run.stderr).toBe(2);
      expect(run.stderr).toMatch((cases[i] as [string[], RegExp])[1]);
      hashedNothing(run);
    }
  }, 120_000);

  it("a kernel over the service's limit: exit 1, the file named with its size and the limit", async () => {
    const id = await addMachine();
    const big = (await seededFile(join(dir, 'vmlinuz-big'), 'ux-big', 100 * KiB)).path;
    const run = await netboot(['profile', 'set', id, '--kernel', big, '--initrd', kernel]);
    expect(run.code, run.stderr).toBe(1);
    expect(run.stderr).toMatch(/\(422 file-too-large\)/);
    expect(run.stderr).toMatch(/^ {2}--kernel \S+vmlinuz-big is 100\.0 KiB; this service takes at most 64\.0 KiB/m);
  }, 60_000);
});

describe("netboot speaks in its own commands", () => {
  it('machine rm of a machine with a profile names `netboot profile rm ID`, not the route', async () => {
    const id = await addMachine();
    expect((await netboot(['profile', 'set', id, '--kernel', kernel, '--initrd', kernel])).code).toBe(0);
    const run = await netboot(['machine', 'rm', id]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`delete the profile first: netboot profile rm ${id}`);
    expect(run.stderr).not.toContain('/api/v1/boot/');
  }, 60_000);

  it("a refused machine file: its invalid fields said as the file's", async () => {
    const file = join(dir, 'no-nics.json');
    await writeFile(file, JSON.stringify({ nics: [] }));
    const run = await netboot(['machine', 'add', '--file', file]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`  --file ${file}: nics: at least one NIC is required`);
  }, 60_000);

  it('a malformed token: says how to get one, locally and in production', async () => {
    const run = await netboot(['machine', 'list'], { NETBOOT_TOKEN: 'not-a-token' });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/\(401 unauthorized\)/);
    expect(run.stderr).toContain('export NETBOOT_TOKEN=$(npm run --silent admin-token)');
    expect(run.stderr).toContain('gcloud auth print-identity-token --audiences=');
  }, 60_000);

  it('lists: "no machines", "1 machine", never "page 1 of 0"', async () => {
    const none = await netboot(['machine', 'list', '--mac', aMac()]);
    expect(none.code, none.stderr).toBe(0);
    expect(none.stderr).toMatch(/^no machines with MAC /);
    const mac = aMac();
    expect((await netboot(['machine', 'add', '--mac', mac])).code).toBe(0);
    const one = await netboot(['machine', 'list', '--mac', mac]);
    expect(one.stderr).toBe('page 1 of 1 (1 machine, 20 per page)\n');
    const past = await netboot(['machine', 'list', '--mac', mac, '--page', '5']);
    expect(past.stderr).toMatch(/^page 5 is past the last \(1\); 1 machine/);
    const discoveries = await netboot(['discoveries', '--mac', aMac()]);
    expect(discoveries.stderr).toMatch(/^no discoveries of MAC /);
  }, 60_000);

  it('progress without a terminal: each position once, 100 % once', async () => {
    const id = await addMachine();
    const file = (await seededFile(join(dir, 'initrd-3m'), 'ux-progress', 3 * 1024 * KiB)).path;
    const run = await netboot(['profile', 'set', id, '--kernel', kernel, '--initrd', file], { NETBOOT_PROGRESS_INTERVAL_MS: '0', NETBOOT_CHUNK_SIZE: String(256 * KiB) });
    expect(run.code, run.stderr).toBe(0);
    const lines = run.stderr.split('\n').filter((l) => /^initrd: \d+\/\d+ bytes/.test(l));
    expect(lines.filter((l) => l.includes(' 100.0% '))).toHaveLength(1);
    const positions = lines.map((l) => Number(/^initrd: (\d+)\//.exec(l)?.[1]));
    expect(new Set(positions).size).toBe(positions.length);
  }, 120_000);
});

describe('the exit-status table (cli/errors.ts)', () => {
  it('--help prints it; 0 done, 1 refused, 2 usage, 3 unreachable, 143 SIGTERM', async () => {
    const help = await netboot(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Exit status:\n {2}0 +done\n {2}1 +the service refused/m);
    expect(help.stdout).toMatch(/^ {2}130 +interrupted/m);

    expect((await netboot(['machine', 'list'])).code).toBe(0);
    expect((await netboot(['machine', 'get', '018c7dbd-c000-7000-8000-fedcba987654'])).code).toBe(1);
    expect((await netboot(['machine', 'list', '--no-such-option'])).code).toBe(2);
    expect((await netboot(['machine', 'list'], { NETBOOT_TOKEN: undefined })).code).toBe(2);

    // A front door that takes the connection and never answers: unreachable once it is closed, and a signal meanwhile.
    const sockets: Socket[] = [];
    let connected: () => void = () => undefined;
    const accepted = new Promise<void>((done) => (connected = done));
    const silent = createServer((s) => {
      sockets.push(s);
      connected();
    });
    await new Promise<void>((done) => silent.listen(0, '127.0.0.1', done));
    const url = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
    try {
      const child = spawn(process.execPath, [launcher, 'machine', 'list'], { env: { ...process.env, NETBOOT_URL: url, NETBOOT_TOKEN: token }, stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const code = new Promise<number | null>((done) => child.on('close', done));
      await accepted;
      child.kill('SIGTERM');
      expect(await code).toBe(143);
      expect(stderr).toMatch(/netboot: interrupted \(SIGTERM\)/);
    } finally {
      for (const s of sockets) s.destroy();
      silent.close();
    }
    const down = await netboot(['machine', 'list'], { NETBOOT_URL: url });
    expect(down.code).toBe(3);
    expect(down.stderr).toMatch(/^netboot: cannot reach /m);
  }, 120_000);
});
