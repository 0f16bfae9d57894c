import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { mintLocalToken } from '../emulators/local-issuer';
import { aMac, aMachine } from './helpers/fixtures';
import { postProfile, profileForm, randomFile, sha256, type ProfileBody } from './helpers/profiles';
import { runNetboot, type CliRun } from './helpers/cli';
import { request, setEnv, useLocalStack } from './helpers/stack';
import { expectProblem } from './helpers/problem';

const stack = useLocalStack();
const api = <T = Record<string, unknown>>(method: string, path: string, init?: Parameters<typeof request>[3]) => request<T>(stack.url, method, path, init);

const kernel = randomFile(4096);
const initrd = randomFile(2048);
const cloudConfig = '#cloud-config\r\nhostname: node-1\nusers:\n  - name: ops\n    ssh_authorized_keys: ["ssh-ed25519 AAAA ops@example"]\nruncmd:\n  - [sh, -c, "echo héllo > /tmp/x"]\n';
const script = '#!/bin/sh\necho installed\n';
const mime = 'Content-Type: multipart/mixed; boundary="XYZ"\nMIME-Version: 1.0\n\n--XYZ\nContent-Type: text/cloud-config\n\n#cloud-config\nruncmd: [true]\n--XYZ--\n';

afterEach(() => setEnv({ BOOT_ALLOWED_CIDRS: undefined }));

/**
 * A machine (with `extra`) and a profile whose form has `user_data`: bytes as a file part (sent
 * exactly), a string as a text field (FormData, like browsers, sends a text field's newlines as CRLF).
 */
async function machineWithUserData(userData: string | Uint8Array | undefined, extra: Record<string, unknown> = {}): Promise<{ id: string; mac: string; profile: ProfileBody & { user_data?: unknown } }> {
  const mac = aMac();
  const machine = await api<{ id: string }>('POST', '/api/v1/machines', { json: aMachine({ nics: [{ mac }], ...extra }) });
  const form = profileForm({ machine_id: machine.body.id, kernel, initrd, kernel_args: '["ds=nocloud;s={{metadata_url}}"]', ...(userData === undefined ? {} : { extra: [['user_data', userData]] }) });
  const res = await postProfile(stack.url, form);
  expect(res.status, res.text).toBe(201);
  return { id: machine.body.id, mac, profile: res.body };
}

/** The path of a boot's own NoCloud seed (`{{metadata_url}}`, ends in `/`): a boot script fetched as the machine would. */
async function seedOf(mac: string): Promise<string> {
  const booted = await api('GET', `/boot.ipxe?mac=${mac}`);
  const url = /ds=nocloud;s=(\S+)/.exec(booted.text)?.[1] ?? '';
  expect(url).toMatch(/^http:\/\/[^/]+\/nocloud\/[^/]+\/$/);
  return new URL(url).pathname;
}

describe('cloud-init user-data (NoCloud)', () => {
  it('#cloud-config: stored with the profile, served byte for byte as text/cloud-config; meta-data and vendor-data', async () => {
    const { id, mac, profile } = await machineWithUserData(new TextEncoder().encode(cloudConfig), { hostname: 'node-1' });
    const bytes = Buffer.from(cloudConfig, 'utf8');
    expect(profile.user_data).toEqual({ format: 'cloud-config', size: bytes.length, sha256: sha256(bytes) });
    expect((await api('GET', `/api/v1/boot/${id}/profile`)).body.user_data).toEqual(profile.user_data);

    const seed = await seedOf(mac);
    const res = await fetch(`${stack.url}${seed}user-data`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/cloud-config');
    expect(res.headers.get('cache-control')).toBe('no-cache, no-store, must-revalidate');
    expect(Buffer.from(await res.arrayBuffer()).equals(bytes)).toBe(true);
    // Through the contract check too.
    expect((await api('GET', `${seed}user-data`)).status).toBe(200);
    // By MAC (which anyone on the boot network can name): never the user-data, empty (hyphen MAC form accepted).
    const byMac = await api('GET', `/metadata/${mac.replaceAll(':', '-')}/user-data`);
    expect(byMac.status).toBe(200);
    expect(byMac.text).toBe('');

    for (const path of [`${seed}meta-data`, `/metadata/${mac}/meta-data`]) {
      const meta = await api('GET', path);
      expect(meta.status).toBe(200);
      expect(meta.text).toBe(`instance-id: ${id}\nlocal-hostname: node-1\n`);
    }
    for (const path of [`${seed}vendor-data`, `/metadata/${mac}/vendor-data`]) {
      const vendor = await api('GET', path);
      expect(vendor.status).toBe(200);
      expect(vendor.text).toBe('');
    }
  });

  it('a #! script (sent as a file part) is text/x-shellscript; a MIME archive multipart/mixed', async () => {
    const a = await machineWithUserData(new TextEncoder().encode(script));
    expect(a.profile.user_data).toMatchObject({ format: 'script' });
    const served = await api('GET', `${await seedOf(a.mac)}user-data`);
    expect(served.headers.get('content-type')).toBe('text/x-shellscript');
    expect(served.text).toBe(script);
    const b = await machineWithUserData(new TextEncoder().encode(mime));
    const multipart = await api('GET', `${await seedOf(b.mac)}user-data`);
    expect(multipart.headers.get('content-type')).toBe('multipart/mixed');
    expect(multipart.text).toBe(mime);
  });

  it('a text field is accepted too (what arrives is what is stored)', async () => {
    const { mac } = await machineWithUserData('#!/bin/sh\necho text-field\n');
    expect((await api('GET', `${await seedOf(mac)}user-data`)).text).toBe('#!/bin/sh\r\necho text-field\r\n');
  });

  it('meta-data without a hostname names the machine id; a profile without user-data is 404 user-data-not-found', async () => {
    const { id, mac } = await machineWithUserData(undefined);
    expect((await api('GET', `/metadata/${mac}/meta-data`)).text).toBe(`instance-id: ${id}\nlocal-hostname: ${id}\n`);
    expectProblem(await api('GET', `${await seedOf(mac)}user-data`), 404, 'user-data-not-found');
  });

  it('an unknown MAC is 404 machine-not-configured on every route; a bad MAC 400; outside the boot network 403', async () => {
    const unknown = aMac();
    for (const file of ['user-data', 'meta-data', 'vendor-data']) {
      expectProblem(await api('GET', `/metadata/${unknown}/${file}`), 404, 'machine-not-configured');
      expectProblem(await api('GET', `/metadata/zz:zz/${file}`), 400, 'invalid-mac-address');
    }
    const { mac } = await machineWithUserData(script);
    setEnv({ BOOT_ALLOWED_CIDRS: '10.99.0.0/16' });
    expectProblem(await api('GET', `/metadata/${mac}/user-data`), 403, 'forbidden');
  });

  it.each([
    ['no recognised first line', 'hostname: x\n', /must start with #cloud-config/],
    ['broken YAML', '#cloud-config\nusers: [a, b\n', /not valid YAML/],
    ['duplicate keys', '#cloud-config\na: 1\na: 2\n', /not valid YAML/],
    ['a YAML list', '#cloud-config\n- a\n- b\n', /mapping/],
    ['over 64 KiB', `#!/bin/sh\n${'x'.repeat(64 * 1024)}\n`, /at most 65536 bytes/],
    ['not UTF-8', Buffer.from([0x23, 0x21, 0x2f, 0xff, 0xfe, 0x0a]), /UTF-8/],
  ])('%s: 422 invalid-user-data, nothing stored', async (_what, userData, detail) => {
    const machine = await api<{ id: string }>('POST', '/api/v1/machines', { json: aMachine() });
    const form = profileForm({ machine_id: machine.body.id, kernel, initrd, extra: [['user_data', userData]] });
    const body = expectProblem(await postProfile(stack.url, form), 422, 'invalid-user-data');
    expect(body.field).toBe('user_data');
    expect(body.detail).toMatch(detail);
    expectProblem(await api('GET', `/api/v1/boot/${machine.body.id}/profile`), 404, 'boot-profile-not-found');
  });

  it('PUT replaces the user-data with the new form\'s, and drops it when the form has none', async () => {
    const { id, mac } = await machineWithUserData(cloudConfig);
    const put = (extra: [string, Uint8Array][]) => api<ProfileBody & { user_data?: { format: string } }>('PUT', `/api/v1/boot/${id}/profile`, { body: profileForm({ kernel, initrd, kernel_args: '["ds=nocloud;s={{metadata_url}}"]', extra }) });
    expect((await put([['user_data', new TextEncoder().encode(script)]])).body.user_data).toMatchObject({ format: 'script' });
    expect((await api('GET', `${await seedOf(mac)}user-data`)).text).toBe(script);
    const dropped = await put([]);
    expect(dropped.status).toBe(200);
    expect(dropped.body).not.toHaveProperty('user_data');
    expectProblem(await api('GET', `${await seedOf(mac)}user-data`), 404, 'user-data-not-found');
  });

  it('upload sessions: a user_data member is validated at create, shown in the session and committed by finalize', async () => {
    // The files are already held (the multipart routes index them): finalize needs no upload.
    await machineWithUserData(undefined);
    const mac = aMac();
    const machine = await api<{ id: string }>('POST', '/api/v1/machines', { json: aMachine({ nics: [{ mac }] }) });
    const files = { kernel: { size: kernel.length, sha256: sha256(kernel) }, initrd: { size: initrd.length, sha256: sha256(initrd) } };
    expectProblem(await api('POST', '/api/v1/uploads', { json: { machine_id: machine.body.id, mode: 'create', user_data: 'nope', ...files } }), 422, 'invalid-user-data');
    const session = await api<{ id: string; user_data: unknown; files: { kernel: { upload: unknown } } }>('POST', '/api/v1/uploads', { json: { machine_id: machine.body.id, mode: 'create', user_data: cloudConfig, kernel_args: ['ds=nocloud;s={{metadata_url}}'], ...files } });
    expect(session.status).toBe(201);
    expect(session.body.files.kernel.upload).toBeNull();
    expect(session.body.user_data).toEqual({ format: 'cloud-config', size: Buffer.byteLength(cloudConfig), sha256: sha256(Buffer.from(cloudConfig)) });
    const finalized = await api<{ user_data: unknown }>('POST', `/api/v1/uploads/${session.body.id}/finalize`);
    expect(finalized.status).toBe(201);
    expect(finalized.body.user_data).toEqual(session.body.user_data);
    expect((await api('GET', `${await seedOf(mac)}user-data`)).text).toBe(cloudConfig);
  });
});

describe('netboot profile set --user-data', () => {
  function netboot(args: string[], home: string): Promise<CliRun> {
    return runNetboot(args, { NETBOOT_URL: stack.url, NETBOOT_TOKEN: mintLocalToken(), XDG_STATE_HOME: join(home, 'state') });
  }

  it('sends the file as the session\'s user_data; the machine gets it byte for byte; a bad file is the service\'s 422 (exit 1)', async () => {
    const home = await mkdtemp(join(tmpdir(), 'netboot-fleet-cli-'));
    const files = { kernel: join(home, 'vmlinuz'), initrd: join(home, 'initrd.img'), good: join(home, 'user-data.yaml'), bad: join(home, 'bad.yaml') };
    await writeFile(files.kernel, kernel);
    await writeFile(files.initrd, initrd);
    await writeFile(files.good, cloudConfig);
    await writeFile(files.bad, 'hostname: nope\n');
    const mac = aMac();
    const machine = await api<{ id: string }>('POST', '/api/v1/machines', { json: aMachine({ nics: [{ mac }] }) });
    const bad = await netboot(['profile', 'set', machine.body.id, '--kernel', files.kernel, '--initrd', files.initrd, '--user-data', files.bad], home);
    expect(bad.code, bad.stderr).toBe(1);
    expect(bad.stderr).toMatch(/invalid-user-data/);
    const run = await netboot(['--json', 'profile', 'set', machine.body.id, '--kernel', files.kernel, '--initrd', files.initrd, '--arg', 'ds=nocloud;s={{metadata_url}}', '--user-data', files.good], home);
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ user_data: { format: 'cloud-config', size: Buffer.byteLength(cloudConfig) }, kernel: { args: ['ds=nocloud;s={{metadata_url}}'] } });
    const served = await fetch(`${stack.url}${await seedOf(mac)}user-data`);
    expect(Buffer.from(await served.arrayBuffer()).equals(Buffer.from(cloudConfig))).toBe(true);
  });
});

/**
 * Real cloud-init (Debian's 22.4, extracted by scripts/e2e/cloud-init.sh, not installed): its
 * own NoCloud code reads the kernel line the service renders (`parse_cmdline_data`: the
 * `ds=nocloud;s=...` argument, templated), fetches meta-data, user-data and vendor-data from
 * the seed URL (`util.read_seeded`, what the NoCloud datasource calls for `s=`), and
 * `cloud-init schema --config-file` validates the user-data it received. Skipped with the
 * reason where Debian's packages cannot be fetched; in CI a skip is a failure.
 */
const cloudInit = (() => {
  const run = spawnSync('bash', [resolve(__dirname, '../scripts/e2e/cloud-init.sh')], { encoding: 'utf8', timeout: 5 * 60_000 });
  if (run.status === 0) return { ok: true as const, root: run.stdout.trim().split('\n').at(-1) as string };
  return { ok: false as const, reason: `scripts/e2e/cloud-init.sh failed: ${(run.stderr || run.error?.message || '').trim().split('\n').slice(-3).join(' / ')}` };
})();
if (!cloudInit.ok) {
  if (process.env.CI) throw new Error(`${cloudInit.reason} (CI must run the cloud-init proof)`);
  process.stdout.write(`\ncloud-init proof skipped: ${cloudInit.reason}\n`);
}

describe.skipIf(!cloudInit.ok)('real cloud-init reads what the service serves', () => {
  /** Asynchronously: the stack answers in this very process, so its event loop must keep running. */
  const python = (args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> =>
    new Promise((done, reject) => {
      if (!cloudInit.ok) return reject(new Error('unreachable'));
      const child = spawn('python3', args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000, env: { ...process.env, PYTHONPATH: `${cloudInit.root}/usr/lib/python3/dist-packages` } });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('error', reject);
      child.on('close', (status) => done({ status, stdout, stderr }));
    });

  it('NoCloud: the rendered ds= argument leads cloud-init to meta-data, user-data (byte for byte) and vendor-data; the user-data passes its schema', async () => {
    const { id, mac } = await machineWithUserData(new TextEncoder().encode(cloudConfig), { hostname: 'node-7' });
    const script = await api('GET', `/boot.ipxe?mac=${mac}`);
    const cmdline = (/^kernel \S+ (.*?) && goto kernel_ok/m.exec(script.text)?.[1] ?? '').replace(/netboot\.token=\S+ /, '');
    const seedUrl = /ds=nocloud;s=(\S+)/.exec(cmdline)?.[1] ?? '';
    expect(seedUrl).toMatch(new RegExp(`^http://${new URL(stack.url).host}/nocloud/[^/]+/$`));
    const reader = [
      'import sys, json, base64',
      'from cloudinit.sources.DataSourceNoCloud import parse_cmdline_data',
      'from cloudinit import util',
      'fill = {}',
      "found = parse_cmdline_data('ds=nocloud', fill, sys.argv[1])  # the datasource's own cmdline_id",
      "md, ud, vd = util.read_seeded(fill['seedfrom'], timeout=5, retries=0)",
      "print(json.dumps({'found': bool(found), 'fill': fill, 'md': md, 'ud': base64.b64encode(ud).decode(), 'vd': base64.b64encode(vd or b'').decode()}))",
    ].join('\n');
    const read = await python(['-c', reader, cmdline]);
    expect(read.status, read.stderr).toBe(0);
    const got = JSON.parse(read.stdout) as { found: boolean; fill: Record<string, string>; md: Record<string, string>; ud: string; vd: string };
    expect(got.found).toBe(true);
    expect(got.fill.seedfrom).toBe(seedUrl);
    expect(got.md).toEqual({ 'instance-id': id, 'local-hostname': 'node-7' });
    expect(Buffer.from(got.ud, 'base64').equals(Buffer.from(cloudConfig))).toBe(true);
    expect(got.vd).toBe('');

    const dir = await mkdtemp(join(tmpdir(), 'netboot-cloud-init-'));
    await writeFile(join(dir, 'user-data'), Buffer.from(got.ud, 'base64'));
    const schema = await python([`${cloudInit.root}/usr/bin/cloud-init`, 'schema', '--config-file', join(dir, 'user-data')]);
    expect(schema.status, schema.stdout + schema.stderr).toBe(0);
    expect(schema.stdout).toMatch(/Valid cloud-config/);
    // And it would refuse one that is YAML but not cloud-config: the service's check is syntax only.
    await writeFile(join(dir, 'bad'), '#cloud-config\nruncmd: notalist\n');
    expect((await python([`${cloudInit.root}/usr/bin/cloud-init`, 'schema', '--config-file', join(dir, 'bad')])).status).not.toBe(0);
  });

  it('NoCloud vendor-data: a profile\'s vendor_data reaches cloud-init byte for byte, and passes its schema', async () => {
    const vendorConfig = '#cloud-config\nntp:\n  enabled: true\n  servers: [ntp.example]\n';
    const mac = aMac();
    const machine = await api<{ id: string }>('POST', '/api/v1/machines', { json: aMachine({ nics: [{ mac }] }) });
    const created = await postProfile(stack.url, profileForm({ machine_id: machine.body.id, kernel, initrd, kernel_args: '["ds=nocloud;s={{metadata_url}}"]', extra: [['user_data', new TextEncoder().encode(script)], ['vendor_data', new TextEncoder().encode(vendorConfig)]] }));
    expect(created.status, created.text).toBe(201);
    const reader = [
      'import sys, json, base64',
      'from cloudinit import util',
      'md, ud, vd = util.read_seeded(sys.argv[1], timeout=5, retries=0)',
      "print(json.dumps({'ud': base64.b64encode(ud).decode(), 'vd': base64.b64encode(vd or b'').decode()}))",
    ].join('\n');
    const read = await python(['-c', reader, `${stack.url}${await seedOf(mac)}`]);
    expect(read.status, read.stderr).toBe(0);
    const got = JSON.parse(read.stdout) as { ud: string; vd: string };
    expect(Buffer.from(got.ud, 'base64').toString()).toBe(script);
    expect(Buffer.from(got.vd, 'base64').toString()).toBe(vendorConfig);
    const dir = await mkdtemp(join(tmpdir(), 'netboot-vendor-data-'));
    await writeFile(join(dir, 'vendor-data'), Buffer.from(got.vd, 'base64'));
    const schema = await python([`${cloudInit.root}/usr/bin/cloud-init`, 'schema', '--config-file', join(dir, 'vendor-data')]);
    expect(schema.status, schema.stdout + schema.stderr).toBe(0);
  });
});
