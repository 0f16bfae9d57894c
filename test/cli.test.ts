// The netboot CLI (cli/) as a user runs it, in child processes, against the real local stack.
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintLocalToken } from '../emulators/local-issuer';
import { seededFile } from '../emulators/storage/test-support';
import { aMac, aMachine } from './helpers/fixtures';
import { postProfile, profileForm, randomFile } from './helpers/profiles';
import { runNetboot, type CliRun } from './helpers/cli';
import { request, useLocalStack } from './helpers/stack';

const MiB = 1024 * 1024;
const launcher = resolve(__dirname, '../cli/netboot.js');
// The production caps in force: request bodies over 32 MiB are refused (413), so a 150 MiB
// initrd can only arrive through an upload session, straight to Storage.
const stack = useLocalStack({ MAX_REQUEST_BYTES: String(32 * MiB) });
let token: string;
let dir: string;

beforeAll(async () => {
  token = mintLocalToken();
  dir = await mkdtemp(join(tmpdir(), 'netboot-cli-stack-'));
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

type Run = CliRun;

function netboot(args: string[], env: Record<string, string | undefined> = {}): Promise<Run> {
  return runNetboot(args, { NETBOOT_URL: stack.url, NETBOOT_TOKEN: token, XDG_STATE_HOME: join(dir, 'state'), ...env });
}

/** A local port nobody listens on. */
function closedPort(): Promise<number> {
  return new Promise((done) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => done(port));
    });
  });
}

const say = (s: string) => process.stderr.write(`[netboot cli] ${s}\n`);

describe('netboot machine', () => {
  it('add, list, get, update, rm; --json prints the API answers', async () => {
    const mac = aMac();
    const file = join(dir, 'machine.json');
    await writeFile(file, JSON.stringify(aMachine({ nics: [{ mac }] })));
    const extra = aMac();
    const add = await netboot(['machine', 'add', '--file', file, '--mac', extra, '--json']);
    expect(add.code, add.stderr).toBe(0);
    const { id } = JSON.parse(add.stdout) as { id: string };
    expect(id).toMatch(/^[0-9a-f-]{36}$/);

    const list = await netboot(['machine', 'list', '--mac', extra, '--json']);
    expect(list.code, list.stderr).toBe(0);
    const listed = JSON.parse(list.stdout) as { machines: { id: string; nics: { mac: string }[] }[]; pagination: { total: number } };
    expect(listed.machines.map((m) => m.id)).toEqual([id]);
    expect(listed.machines[0]?.nics.map((n) => n.mac)).toEqual([mac, extra]);

    const plain = await netboot(['machine', 'list', '--page', '1', '--per-page', '100']);
    expect(plain.code, plain.stderr).toBe(0);
    expect(plain.stdout).toContain(`${id}  nics=${mac},${extra}`);
    expect(plain.stderr).toMatch(/^page 1 of \d+/);

    const get = await netboot(['machine', 'get', id, '--json']);
    expect(JSON.parse(get.stdout)).toMatchObject({ id, nics: [{ mac }, { mac: extra }] });

    await writeFile(file, JSON.stringify({ nics: [{ mac }] }));
    const update = await netboot(['machine', 'update', id, '--file', file]);
    expect(update.code, update.stderr).toBe(0);
    expect(update.stdout.trim()).toBe(`machine ${id} replaced`);
    expect((await request(stack.url, 'GET', `/api/v1/machines/${id}`)).body).toMatchObject({ nics: [{ mac }] });

    const del = await netboot(['machine', 'rm', id]);
    expect(del.code, del.stderr).toBe(0);
    expect((await request(stack.url, 'GET', `/api/v1/machines/${id}`)).status).toBe(404);
  }, 60_000);

  it('netboot mode, boots and discoveries (the fleet-lifecycle commands)', async () => {
    const mac = aMac();
    const add = await netboot(['machine', 'add', '--mac', mac, '--json']);
    expect(add.code, add.stderr).toBe(0);
    const { id } = JSON.parse(add.stdout) as { id: string };

    const once = await netboot(['machine', 'netboot', id, 'once', '--json']);
    expect(once.code, once.stderr).toBe(0);
    expect(JSON.parse(once.stdout)).toMatchObject({ id, netboot: 'once', nics: [{ mac }] });
    expect((await request(stack.url, 'GET', `/api/v1/machines/${id}`)).body).toMatchObject({ netboot: 'once' });
    const bad = await netboot(['machine', 'netboot', id, 'sometimes']);
    expect(bad.code).not.toBe(0);

    // A boot script for the machine (no profile: 404, but it counts as a request) and one for an unknown MAC.
    const unknown = aMac();
    await request(stack.url, 'GET', `/boot.ipxe?mac=${unknown}&arch=x86_64&platform=efi`);
    const disc = await netboot(['discoveries', '--mac', unknown, '--json']);
    expect(disc.code, disc.stderr).toBe(0);
    expect((JSON.parse(disc.stdout) as { discoveries: unknown[] }).discoveries).toEqual([expect.objectContaining({ mac: unknown, arch: 'x86_64', platform: 'efi', requests: 1 })]);
    const discPlain = await netboot(['discoveries', '--mac', unknown]);
    expect(discPlain.code, discPlain.stderr).toBe(0);
    expect(discPlain.stdout).toContain(unknown);

    const boots = await netboot(['machine', 'boots', id, '--json']);
    expect(boots.code, boots.stderr).toBe(0);
    expect(JSON.parse(boots.stdout)).toMatchObject({ boots: [] });
  }, 60_000);

  it("exits 1 with the problem's title and detail on stderr, 2 on usage errors, 3 when the service is unreachable", async () => {
    const mac = aMac();
    expect((await netboot(['machine', 'add', '--mac', mac])).code).toBe(0);
    const dup = await netboot(['machine', 'add', '--mac', mac]);
    expect(dup.code).toBe(1);
    expect(dup.stdout).toBe('');
    expect(dup.stderr).toMatch(/^netboot: [A-Z][\w ]+ \(409 duplicate-mac-address\): .+/);
    expect(dup.stderr).toContain('existing_machine_id');

    const missing = await netboot(['machine', 'get', '018c7dbd-c000-7000-8000-fedcba987654', '--json']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/Machine Not Found \(404 machine-not-found\): Machine with ID 018c7dbd-c000-7000-8000-fedcba987654 not found/);

    const denied = await netboot(['machine', 'list'], { NETBOOT_TOKEN: 'not-a-token' });
    expect(denied.code).toBe(1);
    expect(denied.stderr).toMatch(/\(401 /);

    expect((await netboot(['machine', 'add'])).code).toBe(2);
    expect((await netboot(['machine', 'list', '--page', 'x'])).code).toBe(2);
    expect((await netboot(['machine', 'list'], { NETBOOT_URL: undefined })).stderr).toMatch(/NETBOOT_URL/);

    const port = await closedPort();
    const down = await netboot(['machine', 'list'], { NETBOOT_URL: `http://127.0.0.1:${port}` });
    expect(down.code).toBe(3);
    expect(down.stderr).toBe(`netboot: cannot reach http://127.0.0.1:${port} (GET /api/v1/machines): ECONNREFUSED (connect ECONNREFUSED 127.0.0.1:${port})\n`);
  }, 60_000);
});

describe('netboot profile get / rm and boot-script', () => {
  it('shows and deletes a profile made through the API; prints the boot script', async () => {
    const mac = aMac();
    const id = (await request<{ id: string }>(stack.url, 'POST', '/api/v1/machines', { json: aMachine({ nics: [{ mac }] }) })).body.id;
    const made = await postProfile(stack.url, profileForm({ machine_id: id, kernel: randomFile(4096), initrd: randomFile(8192), kernel_args: '["console=ttyS0"]' }));
    expect(made.status).toBe(201);

    const get = await netboot(['profile', 'get', id, '--json']);
    expect(get.code, get.stderr).toBe(0);
    expect(JSON.parse(get.stdout)).toEqual(made.body);
    const plain = await netboot(['profile', 'get', id]);
    expect(plain.stdout).toContain(`profile   ${made.body.id}`);

    const script = await netboot(['boot-script', mac]);
    expect(script.code, script.stderr).toBe(0);
    expect(script.stdout).toMatch(/^#!ipxe/);
    expect(script.stdout).toContain(`/asset/${made.body.id}/kernel`);

    const rmRun = await netboot(['profile', 'rm', id, '--json']);
    expect(rmRun.code, rmRun.stderr).toBe(0);
    const gone = await netboot(['profile', 'get', id]);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toMatch(/404 boot-profile-not-found/);
    const noScript = await netboot(['boot-script', mac]);
    expect(noScript.code).toBe(1);
    expect(noScript.stderr).toMatch(/404 machine-not-configured/);
  }, 60_000);
});


function uploadStats(stderr: string): { resumed: boolean; mode: string; files: Record<'kernel' | 'initrd', { held: boolean; sent: number; resumed_from: number }> } {
  const m = /netboot: upload stats (\{.*\})/.exec(stderr);
  if (!m) throw new Error(`no stats line in:\n${stderr}`);
  return JSON.parse(m[1] as string) as ReturnType<typeof uploadStats>;
}

describe('netboot profile set (upload sessions, end to end)', () => {
  it('150 MiB initrd: set, get, a second machine uploads no byte, boot-script; memory stays flat', async () => {
    const kernel = await seededFile(join(dir, 'vmlinuz'), 'e2e-kernel', 5 * MiB + 123);
    const initrd = await seededFile(join(dir, 'initrd.img'), 'e2e-initrd', 150 * MiB);
    const macA = aMac();
    const macB = aMac();
    const a = JSON.parse((await netboot(['machine', 'add', '--mac', macA, '--json'])).stdout) as { id: string };
    const b = JSON.parse((await netboot(['machine', 'add', '--mac', macB, '--json'])).stdout) as { id: string };

    const idle = await netboot(['profile', 'get', a.id]); // a 404, through the same code: the baseline
    const t0 = Date.now();
    const set = await netboot(['profile', 'set', a.id, '--kernel', kernel.path, '--initrd', initrd.path, '--arg', 'console=ttyS0', '--arg', 'ip=dhcp', '--json']);
    const secs = (Date.now() - t0) / 1000;
    expect(set.code, set.stderr).toBe(0);
    const profile = JSON.parse(set.stdout) as { id: string; machine_id: string; kernel: { args: string[]; sha256: string; size: number }; initrd: { sha256: string; size: number } };
    expect(profile).toMatchObject({ machine_id: a.id, kernel: { args: ['console=ttyS0', 'ip=dhcp'], sha256: kernel.sha256 }, initrd: { sha256: initrd.sha256, size: 150 * MiB } });
    const st = uploadStats(set.stderr);
    expect(st.mode).toBe('create');
    expect(st.files.initrd.sent).toBe(150 * MiB);
    expect(set.stderr).not.toContain('\u001b[');
    const growth = (set.vmHwmKb - idle.vmHwmKb) / 1024;
    say(
      `profile set, 150 MiB initrd + 5 MiB kernel through the local stack: ${secs.toFixed(1)} s (hashing included), child VmHWM ${(set.vmHwmKb / 1024).toFixed(1)} MiB vs ${(idle.vmHwmKb / 1024).toFixed(1)} MiB for profile get: growth ${growth.toFixed(1)} MiB`,
    );
    expect(growth).toBeLessThan(64);

    const get = await netboot(['profile', 'get', a.id, '--json']);
    expect(JSON.parse(get.stdout)).toEqual(profile);

    const second = await netboot(['profile', 'set', b.id, '--kernel', kernel.path, '--initrd', initrd.path, '--json']);
    expect(second.code, second.stderr).toBe(0);
    const st2 = uploadStats(second.stderr);
    expect(st2.files.kernel.sent + st2.files.initrd.sent).toBe(0);

    // Same inputs again on machine A: a replace, and again nothing to send.
    const replace = await netboot(['profile', 'set', a.id, '--kernel', kernel.path, '--initrd', initrd.path, '--arg', 'quiet', '--json']);
    expect(replace.code, replace.stderr).toBe(0);
    expect(uploadStats(replace.stderr).mode).toBe('replace');

    const script = await netboot(['boot-script', macA]);
    expect(script.code, script.stderr).toBe(0);
    expect(script.stdout).toMatch(/^#!ipxe/);
    expect(script.stdout).toContain(' quiet');
    // Nothing left to resume.
    expect(await readdir(join(dir, 'state', 'netboot', 'uploads'))).toEqual([]);
  }, 300_000);

  it('transfer parts hashes while it sends and remembers the digest; --transfer resumable hashes first; a rewritten file is hashed again', async () => {
    const kernel = await seededFile(join(dir, 'k-transfer'), 't-kernel', MiB + 1);
    const initrd = await seededFile(join(dir, 'i-transfer'), 't-initrd', 20 * MiB + 3);
    const session = async (run: Run) => {
      const id = JSON.parse(/netboot: upload stats (\{.*\})/.exec(run.stderr)?.[1] ?? '{}').session_id as string;
      return (await request<{ files: Record<string, { sha256: string | null; verified_bytes?: number }> }>(stack.url, 'GET', `/api/v1/uploads/${id}`)).body;
    };
    const machine = async () => (JSON.parse((await netboot(['machine', 'add', '--mac', aMac(), '--json'])).stdout) as { id: string }).id;

    const parts = await netboot(['profile', 'set', await machine(), '--kernel', kernel.path, '--initrd', initrd.path, '--json']);
    expect(parts.code, parts.stderr).toBe(0);
    expect(parts.stderr).toContain(`initrd: ${initrd.path} ${20 * MiB + 3} bytes (hashed while it is sent)`);
    expect(parts.stderr).toMatch(/initrd: sent 20971523 bytes in 3 parts/);
    expect(JSON.parse(parts.stdout)).toMatchObject({ initrd: { sha256: initrd.sha256 } });
    // Declared at finalize, verified by the service: the session shows the SHA-256 it committed.
    expect((await session(parts)).files.initrd).toMatchObject({ sha256: initrd.sha256, verified_bytes: 20 * MiB + 3 });

    // Remembered: declared at open, and the service holds it, so nothing is sent.
    const again = await netboot(['profile', 'set', await machine(), '--kernel', kernel.path, '--initrd', initrd.path, '--transfer', 'resumable', '--json']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toContain(`initrd: ${initrd.path} ${20 * MiB + 3} bytes sha256 ${initrd.sha256}`);
    expect(uploadStats(again.stderr).files.initrd).toMatchObject({ held: true, sent: 0 });

    // Rewritten (same size, new bytes): its ctime changed, so it is hashed again rather than declared from memory.
    const rewritten = await seededFile(initrd.path, 't-initrd-2', 20 * MiB + 3);
    const resumable = await netboot(['profile', 'set', await machine(), '--kernel', kernel.path, '--initrd', initrd.path, '--transfer', 'resumable', '--json']);
    expect(resumable.code, resumable.stderr).toBe(0);
    expect(resumable.stderr).toContain(`initrd: ${initrd.path} ${20 * MiB + 3} bytes sha256 ${rewritten.sha256}`);
    expect(uploadStats(resumable.stderr).files.initrd).toMatchObject({ held: false, sent: 20 * MiB + 3 });
    expect(JSON.parse(resumable.stdout)).toMatchObject({ initrd: { sha256: rewritten.sha256 } });
    expect((await session(resumable)).files.initrd?.verified_bytes).toBeUndefined();
  }, 120_000);

  it("a problem answer of the upload API: exit 1, the problem's title and detail on stderr", async () => {
    const kernel = await seededFile(join(dir, 'k-small'), 'p-kernel', 4096);
    const id = JSON.parse((await netboot(['machine', 'add', '--mac', aMac(), '--json'])).stdout) as { id: string };
    const bad = await netboot(['profile', 'set', id.id, '--kernel', kernel.path, '--initrd', kernel.path, '--arg', 'a b', '--json']);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toBe('');
    expect(bad.stderr).toMatch(/^netboot: [A-Z][\w ]+ \(422 invalid-kernel-args\): .+$/m);
    const missing = await netboot(['profile', 'set', id.id, '--kernel', join(dir, 'nope'), '--initrd', kernel.path]);
    expect(missing.code).toBe(2); // a usage error (docs/cli.md "Exit status"), named by its option and path
    expect(missing.stderr).toMatch(/^netboot: --kernel \S*nope: no such file/m);
  }, 60_000);

  it('killed mid-upload and run again: resumes the same session and sends only what Storage lacks', async () => {
    const kernel = await seededFile(join(dir, 'vmlinuz-r'), 'resume-kernel', MiB);
    const initrd = await seededFile(join(dir, 'initrd-r.img'), 'resume-initrd', 150 * MiB);
    const id = JSON.parse((await netboot(['machine', 'add', '--mac', aMac(), '--json'])).stdout) as { id: string };
    const args = ['profile', 'set', id.id, '--kernel', kernel.path, '--initrd', initrd.path, '--json'];
    const first = await new Promise<string>((done) => {
      const child = spawn(process.execPath, [launcher, ...args], {
        env: { ...process.env, NETBOOT_URL: stack.url, NETBOOT_TOKEN: token, XDG_STATE_HOME: join(dir, 'state'), NETBOOT_PROGRESS_INTERVAL_MS: '0' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let err = '';
      let pending = '';
      child.stderr.on('data', (d: Buffer) => {
        err += d.toString();
        pending += d.toString();
        const lines = pending.split('\n');
        pending = lines.pop() ?? '';
        if (lines.some((l) => Number(/^initrd: (\d+)\/\d+ bytes/.exec(l)?.[1] ?? 0) > 50 * MiB)) child.kill('SIGKILL');
      });
      child.on('close', () => done(err));
    });
    expect(first).toMatch(/upload session \S+ opened/);
    const again = await netboot(args);
    expect(again.code, again.stderr).toBe(0);
    const st = uploadStats(again.stderr);
    say(`profile set killed past 50 MiB, run again: ${JSON.stringify(st.files.initrd)}`);
    expect(st.resumed).toBe(true);
    expect(st.files.initrd.resumed_from).toBeGreaterThan(0);
    expect(st.files.initrd.sent).toBe(150 * MiB - st.files.initrd.resumed_from);
    expect(JSON.parse(again.stdout)).toMatchObject({ machine_id: id.id, initrd: { size: 150 * MiB } });
  }, 300_000);
});
