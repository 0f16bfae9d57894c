/**
 * `npm start` as a supervisor or a user runs it: one signal to the process `npm start` started
 * (what `kill PID` or a supervisor sends), or to npm itself, stops the whole stack, frees the
 * port and keeps `--data`. The stack runs as the one process npm starts (`exec node --import
 * tsx`), so there is no shell or loader process in between to die alone and orphan the server.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { aMachine } from './helpers/fixtures';
import { request } from './helpers/stack';

const root = resolve(__dirname, '..');
const dataDir = mkdtempSync(join(tmpdir(), 'netboot-signals-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

interface NpmStart {
  npm: ChildProcess;
  url: string;
  /** The process `npm start` started (its only child). */
  startedPid: number;
}

function startEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: '0', LOG_LEVEL: 'warn' };
  for (const name of ['FIRESTORE_EMULATOR_HOST', 'STORAGE_EMULATOR_HOST', 'GOOGLE_CLOUD_PROJECT', 'BLOB_BUCKET']) Reflect.deleteProperty(env, name);
  return env;
}

function childrenOf(pid: number): number[] {
  const out = spawnSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' }).stdout;
  return out.split('\n').map((l) => Number(l.trim())).filter((n) => n > 0);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function npmStart(): Promise<NpmStart> {
  // Its own process group, as a terminal or supervisor would start it, so the test can tell
  // whether anything of it is left behind.
  const npm = spawn('npm', ['start', '--silent', '--', '--data', dataDir], { cwd: root, env: startEnv(), stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  let stderr = '';
  npm.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const deadline = Date.now() + 45_000;
  let url: string | undefined;
  while (!url && Date.now() < deadline && npm.exitCode === null) {
    url = /listening on (http:\/\/\S+)/.exec(stderr)?.[1];
    if (!url) await new Promise((r) => setTimeout(r, 100));
  }
  if (!url) throw new Error(`npm start did not come up:\n${stderr}`);
  const [startedPid] = childrenOf(npm.pid as number);
  if (!startedPid) throw new Error('npm start started no process');
  return { npm, url, startedPid };
}

function portAnswers(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((done) => {
    const socket = createConnection({ host: hostname, port: Number(port) });
    socket.once('connect', () => (socket.destroy(), done(true)));
    socket.once('error', () => done(false));
  });
}

/** Nothing of the process group is left and the port is free. */
async function expectAllGone(stack: NpmStart): Promise<void> {
  if (stack.npm.exitCode === null && stack.npm.signalCode === null) await once(stack.npm, 'exit');
  const pgid = stack.npm.pid as number;
  const left = spawnSync('ps', ['-o', 'pid=,cmd=', '-g', String(pgid)], { encoding: 'utf8' }).stdout.trim();
  expect(left).toBe('');
  expect(alive(stack.startedPid)).toBe(false);
  expect(await portAnswers(stack.url)).toBe(false);
}

describe('npm start and signals', () => {
  it('SIGTERM to the process npm start started stops everything and keeps --data', async () => {
    const first = await npmStart();
    const created = await request<{ id: string }>(first.url, 'POST', '/api/v1/machines', { json: aMachine() });
    expect(created.status).toBe(201);
    // The process npm started is the server itself: nothing sits between npm and node.
    expect(childrenOf(first.startedPid).map((pid) => spawnSync('ps', ['-o', 'comm=', '-p', String(pid)], { encoding: 'utf8' }).stdout.trim())).not.toContain('node');
    process.kill(first.startedPid, 'SIGTERM');
    await expectAllGone(first);

    const second = await npmStart();
    try {
      expect((await request(second.url, 'GET', `/api/v1/machines/${created.body.id}`)).status).toBe(200);
    } finally {
      process.kill(second.npm.pid as number, 'SIGTERM');
      await expectAllGone(second);
    }
  }, 150_000);
});
