import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { aMac, aMachine } from './helpers/fixtures';
import { request } from './helpers/stack';

const root = resolve(__dirname, '..');
const dataDir = mkdtempSync(join(tmpdir(), 'netboot-data-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

/** The environment of a fresh `npm start`: no emulators named, so it embeds its own. */
function startEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: '0', LOG_LEVEL: 'warn', ...extra };
  for (const name of ['FIRESTORE_EMULATOR_HOST', 'STORAGE_EMULATOR_HOST', 'GOOGLE_CLOUD_PROJECT', 'BLOB_BUCKET']) Reflect.deleteProperty(env, name);
  return env;
}

function spawnStart(args: string[], env: NodeJS.ProcessEnv): { child: ChildProcess; stderr: () => string } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'emulators/start.ts', ...args], { cwd: root, env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return { child, stderr: () => stderr };
}

async function startStack(args: string[]): Promise<{ url: string; stop(): Promise<void> }> {
  const { child, stderr } = spawnStart(args, startEnv());
  const deadline = Date.now() + 30_000;
  let url: string | undefined;
  while (!url && Date.now() < deadline && child.exitCode === null) {
    url = /listening on (http:\/\/\S+)/.exec(stderr())?.[1];
    if (!url) await new Promise((r) => setTimeout(r, 100));
  }
  if (!url) throw new Error(`npm start did not come up:\n${stderr()}`);
  return {
    url,
    async stop() {
      child.kill('SIGINT');
      await once(child, 'exit');
    },
  };
}

describe('npm start', () => {
  it('--data DIR keeps machines and profiles across Ctrl-C and a new start', async () => {
    const mac = aMac();
    const first = await startStack(['--data', dataDir]);
    const created = await request<{ id: string }>(first.url, 'POST', '/api/v1/machines', { json: aMachine({ nics: [{ mac }] }) });
    expect(created.status).toBe(201);
    const form = new FormData();
    form.append('machine_id', created.body.id);
    form.append('kernel', new Blob([new Uint8Array(4096).fill(7)]), 'vmlinuz');
    form.append('initrd', new Blob([new Uint8Array(2048).fill(9)]), 'initrd.img');
    expect((await request(first.url, 'POST', '/api/v1/profiles', { body: form })).status).toBe(201);
    const script = await request(first.url, 'GET', `/boot.ipxe?mac=${mac}`);
    await first.stop();

    const second = await startStack(['--data', dataDir]);
    try {
      expect((await request(second.url, 'GET', `/api/v1/machines/${created.body.id}`)).status).toBe(200);
      const again = await request(second.url, 'GET', `/boot.ipxe?mac=${mac}`);
      expect(again.status).toBe(200);
      // The same versioned URL (the `&boot=` reference is per boot).
      const kernelUrl = /kernel (\S+)/.exec(again.text)?.[1] as string;
      const withoutBoot = (url: string | undefined) => url?.replace(/&boot=[^&]*/, '');
      expect(withoutBoot(kernelUrl)).toBe(withoutBoot(/kernel (\S+)/.exec(script.text)?.[1]));
      // Storage kept the bytes too (proxy or redirect, the blob is readable).
      const res = await fetch(second.url + kernelUrl, { redirect: 'follow' });
      expect(res.status).toBe(200);
      expect((await res.arrayBuffer()).byteLength).toBe(4096);
    } finally {
      await second.stop();
    }
  }, 90_000);

  it('without --data, a restart starts empty', async () => {
    const first = await startStack([]);
    const created = await request<{ id: string }>(first.url, 'POST', '/api/v1/machines', { json: aMachine() });
    await first.stop();
    const second = await startStack([]);
    try {
      expect((await request(second.url, 'GET', `/api/v1/machines/${created.body.id}`)).status).toBe(404);
    } finally {
      await second.stop();
    }
  }, 90_000);

  it('a configuration error is one line naming the variable, and exit status 1', async () => {
    const { child, stderr } = spawnStart([], startEnv({ BOOT_ALLOWED_CIDRS: '10.0.0.0/33' }));
    const [code] = (await once(child, 'exit')) as [number];
    expect(code).toBe(1);
    const lines = stderr().trim().split('\n').filter((l) => !l.startsWith('['));
    expect(lines.at(-1)).toBe('npm start: invalid configuration: BOOT_ALLOWED_CIDRS: "10.0.0.0/33" is not an IPv4 or IPv6 CIDR');
    expect(stderr()).not.toMatch(/\n\s+at /);
  }, 60_000);

  it('an invalid value of a typed variable names it too', async () => {
    const { child, stderr } = spawnStart([], startEnv({ SIGNED_URL_TTL_SECONDS: 'soon' }));
    const [code] = (await once(child, 'exit')) as [number];
    expect(code).toBe(1);
    expect(stderr()).toMatch(/^npm start: invalid configuration: SIGNED_URL_TTL_SECONDS="soon": /m);
    expect(stderr()).not.toMatch(/\n\s+at /);
  }, 60_000);
});
