// The netboot CLI against a front door that fails the way Cloud Run, API Gateway and load
// balancers do while instances start or are replaced (503, 429 + Retry-After, an answer lost
// after the service did the work): requests that may run twice are asked again, others not.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { mintLocalToken } from '../emulators/local-issuer';
import { seededFile } from '../emulators/storage/test-support';
import { aMac } from './helpers/fixtures';
import { runNetboot } from './helpers/cli';
import { request, useLocalStack } from './helpers/stack';

type Failure =
  /** Answered by the front door itself, the service never sees the request. */
  | { kind: 'refuse'; status: 503 | 429; retryAfter?: string }
  /** Forwarded; the service answers; the front door drops that answer and sends 504 (API Gateway's deadline). */
  | { kind: 'lose-answer' };

interface Rule {
  method: string;
  path: RegExp;
  /** How many matching requests fail (Infinity: all). */
  times: number;
  failure: Failure;
  /** Matching requests that arrived, and those the service received. */
  seen: number;
  forwarded: number;
}

/** A node:http proxy in front of the local stack that fails requests as the rules say. */
class FlakyFrontDoor {
  private readonly rules: Rule[] = [];
  private server?: http.Server;
  url = '';

  constructor(private readonly upstream: () => string) {}

  async start(): Promise<void> {
    this.server = http.createServer((req, res) => this.handle(req, res));
    await new Promise<void>((ok) => this.server?.listen(0, '127.0.0.1', ok));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((ok) => (this.server ? this.server.close(() => ok()) : ok()));
  }

  fail(method: string, path: RegExp, times: number, failure: Failure): Rule {
    const rule: Rule = { method, path, times, failure, seen: 0, forwarded: 0 };
    this.rules.push(rule);
    return rule;
  }

  clear(): void {
    this.rules.length = 0;
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const rule = this.rules.find((r) => r.method === req.method && r.path.test(path));
    const failing = rule && rule.seen < rule.times ? rule.failure : undefined;
    if (rule) rule.seen++;
    if (failing?.kind === 'refuse') {
      req.resume();
      const headers: Record<string, string> = { 'content-type': 'text/html; charset=UTF-8' };
      if (failing.retryAfter) headers['retry-after'] = failing.retryAfter;
      res.writeHead(failing.status, headers).end(`<html><body>${failing.status}</body></html>`);
      return;
    }
    if (rule) rule.forwarded++;
    const target = new URL(req.url ?? '/', this.upstream());
    const forward = http.request(target, { method: req.method, headers: { ...req.headers, host: target.host } }, (answer) => {
      if (failing?.kind === 'lose-answer') {
        answer.resume();
        answer.on('end', () => res.writeHead(504, { 'content-type': 'application/json' }).end('{"message":"upstream request timeout","code":504}'));
        return;
      }
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    forward.on('error', () => res.destroy());
    req.pipe(forward);
  }
}

const stack = useLocalStack();
const door = new FlakyFrontDoor(() => stack.url);
let token: string;
let dir: string;

beforeAll(async () => {
  token = mintLocalToken();
  dir = await mkdtemp(join(tmpdir(), 'netboot-cli-retries-'));
  await door.start();
});
afterAll(async () => {
  await door.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});
afterEach(() => door.clear());

const netboot = (args: string[]) => runNetboot(args, { NETBOOT_URL: door.url, NETBOOT_TOKEN: token, XDG_STATE_HOME: join(dir, 'state') });
const retries = (stderr: string) => stderr.split('\n').filter((line) => line.includes('asking again'));

describe('netboot asks again after a transient failure, only where a request may run twice', () => {
  it('a GET answered 503 by the front door: asked again, the command succeeds', async () => {
    const mac = aMac();
    expect((await netboot(['machine', 'add', '--mac', mac])).code).toBe(0);
    const rule = door.fail('GET', /^\/api\/v1\/machines$/, 1, { kind: 'refuse', status: 503 });
    const list = await netboot(['machine', 'list', '--mac', mac, '--json']);
    expect(list.code, list.stderr).toBe(0);
    expect(JSON.stringify(JSON.parse(list.stdout))).toContain(mac);
    expect(rule.seen).toBe(2);
    expect(retries(list.stderr)).toHaveLength(1);
    expect(retries(list.stderr)[0]).toMatch(/^netboot: GET \/api\/v1\/machines\?mac=\S+: HTTP 503 Service Unavailable; asking again \(attempt 2 of 5\)$/);
  }, 30_000);

  it('429 with Retry-After: waits that long before asking again', async () => {
    const rule = door.fail('GET', /^\/api\/v1\/machines$/, 1, { kind: 'refuse', status: 429, retryAfter: '2' });
    const started = Date.now();
    const list = await netboot(['machine', 'list', '--json']);
    expect(list.code, list.stderr).toBe(0);
    expect(Date.now() - started).toBeGreaterThanOrEqual(2000);
    expect(rule.seen).toBe(2);
    expect(retries(list.stderr)[0]).toContain('Retry-After 2 s');
  }, 30_000);

  it('a Retry-After longer than a minute ends the command with the problem (exit 1)', async () => {
    const rule = door.fail('GET', /^\/api\/v1\/machines$/, 1, { kind: 'refuse', status: 429, retryAfter: '3600' });
    const list = await netboot(['machine', 'list']);
    expect(list.code).toBe(1);
    expect(rule.seen).toBe(1);
    expect(list.stderr).toContain('(429');
  }, 30_000);

  it('a POST that creates (machine add) is not asked again: exit 1 with the front door’s answer, one request', async () => {
    const rule = door.fail('POST', /^\/api\/v1\/machines$/, 1, { kind: 'refuse', status: 503 });
    const add = await netboot(['machine', 'add', '--mac', aMac()]);
    expect(add.code).toBe(1);
    expect(rule.seen).toBe(1);
    expect(retries(add.stderr)).toEqual([]);
    expect(add.stderr).toContain('(503');
  }, 30_000);

  it('finalize whose answer is lost after the service committed: asked again, the same profile, reported as created', async () => {
    const kernel = await seededFile(join(dir, 'vmlinuz'), 'retry-kernel', 64 * 1024 + 7);
    const initrd = await seededFile(join(dir, 'initrd.img'), 'retry-initrd', 3 * 1024 * 1024 + 11);
    const { id } = JSON.parse((await netboot(['machine', 'add', '--mac', aMac(), '--json'])).stdout) as { id: string };
    const rule = door.fail('POST', /^\/api\/v1\/uploads\/[^/]+\/finalize$/, 1, { kind: 'lose-answer' });
    const set = await netboot(['profile', 'set', id, '--kernel', kernel.path, '--initrd', initrd.path, '--arg', 'console=ttyS0']);
    expect(set.code, set.stderr).toBe(0);
    expect(rule.seen).toBe(2);
    expect(rule.forwarded).toBe(2); // the service finalized once and answered the second with the same profile
    expect(retries(set.stderr)).toHaveLength(1);
    expect(retries(set.stderr)[0]).toMatch(/^netboot: POST \/api\/v1\/uploads\/\S+\/finalize: HTTP 504; asking again \(attempt 2 of 5\)$/);
    expect(set.stdout).toMatch(/^created boot profile\n/);
    const stored = await request<{ id: string; kernel: { sha256: string }; initrd: { sha256: string } }>(stack.url, 'GET', `/api/v1/boot/${id}/profile`);
    expect(stored.status).toBe(200);
    expect(stored.body.kernel.sha256).toBe(kernel.sha256);
    expect(stored.body.initrd.sha256).toBe(initrd.sha256);
    expect(set.stdout).toContain(stored.body.id);
  }, 60_000);

  it('a front door that keeps failing: five attempts in all, then exit 1 with the last answer', async () => {
    const rule = door.fail('GET', /^\/api\/v1\/machines$/, Infinity, { kind: 'refuse', status: 503 });
    const list = await netboot(['machine', 'list']);
    expect(list.code).toBe(1);
    expect(rule.seen).toBe(5);
    expect(retries(list.stderr)).toHaveLength(4);
    expect(list.stderr).toMatch(/netboot: .*\(503\)/);
  }, 60_000);
});
