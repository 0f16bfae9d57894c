import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { aMac } from './helpers/fixtures';
import { expectProblem } from './helpers/problem';
import { request } from './helpers/stack';

/**
 * Two gateways in two processes (two "instances", each with its own memory) on the run's
 * emulators and one project: a limit counted through one is seen by the other.
 */
const project = `demo-shared-${randomBytes(4).toString('hex')}`;
const children: ChildProcess[] = [];
let urls: string[] = [];

function startGateway(): Promise<string> {
  const child = spawn('npx', ['tsx', path.join('emulators', 'gateway-process.ts')], {
    cwd: path.resolve(__dirname, '..'),
    env: {
      ...process.env,
      FIRESTORE_EMULATOR_HOST: inject('firestoreHost'),
      STORAGE_EMULATOR_HOST: inject('storageHost'),
      GOOGLE_CLOUD_PROJECT: project,
      BLOB_BUCKET: `${project}-blobs`,
      LOG_LEVEL: 'error',
      RATE_LIMIT_BOOT_PER_MAC: '10',
      RATE_LIMIT_ADMIN_PER_PRINCIPAL: '6',
      RATE_LIMIT_ADMIN_PER_IP: '100000',
      RATE_LIMIT_ADMIN_GLOBAL: '100000',
    },
    stdio: ['pipe', 'pipe', 'inherit'],
    // Its own process group, so that npx, tsx and the gateway all stop together.
    detached: true,
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const url = /^listening (http\S+)$/m.exec(out)?.[1];
      if (url) resolve(url);
    });
    child.once('exit', (code) => reject(new Error(`gateway process exited (${code}) before listening: ${out}`)));
  });
}

beforeAll(async () => {
  urls = await Promise.all([startGateway(), startGateway()]);
}, 90_000);

afterAll(async () => {
  await Promise.all(
    children.map(async (child) => {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.stdin?.end();
      const stopped = await Promise.race([exited.then(() => true), sleep(10_000).then(() => false)]);
      if (!stopped && child.pid) process.kill(-child.pid, 'SIGKILL');
    }),
  );
});

/** Counts must not straddle two windows: start early in a minute. */
async function earlyInAMinute(): Promise<void> {
  const intoMinute = Date.now() % 60_000;
  if (intoMinute > 45_000) await sleep(60_000 - intoMinute + 100);
}

describe('two gateway processes on one emulator', () => {
  it('run in processes of their own', () => {
    expect(urls).toHaveLength(2);
    expect(urls[0]).not.toBe(urls[1]);
    expect(children.map((c) => c.pid)).not.toContain(process.pid);
  });

  it('share the per-MAC boot script limit', async () => {
    await earlyInAMinute();
    const mac = aMac();
    for (let i = 0; i < 10; i++) {
      const res = await request(urls[i % 2] as string, 'GET', `/boot.ipxe?mac=${mac}`);
      expectProblem(res, 404, 'machine-not-configured');
      expect(res.headers.get('x-ratelimit-remaining'), `request ${i + 1}`).toBe(String(9 - i));
    }
    for (const url of urls) {
      const refused = await request(url, 'GET', `/boot.ipxe?mac=${mac}`);
      expectProblem(refused, 429, 'rate-limit-exceeded');
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    }
  }, 90_000);

  it('share the per-administrator limit', async () => {
    await earlyInAMinute();
    for (let i = 0; i < 6; i++) {
      const res = await request(urls[(i + 1) % 2] as string, 'GET', '/api/v1/machines');
      expect(res.status, `request ${i + 1}`).toBe(200);
      expect(res.headers.get('x-ratelimit-remaining')).toBe(String(5 - i));
    }
    for (const url of urls) expectProblem(await request(url, 'GET', '/api/v1/machines'), 429, 'rate-limit-exceeded');
  }, 90_000);
});
