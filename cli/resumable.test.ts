// The upload engine against a real peer: the embedded Storage emulator, with sessions made by
// @google-cloud/storage exactly as the service makes them. 150 MiB files on disk, never in memory.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Storage } from '@google-cloud/storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seededFile, startStorage, type StorageFixture } from '../emulators/storage/test-support';
import { querySession, uploadResumable } from './resumable';

const MiB = 1024 * 1024;
const BIG = 150 * MiB;
const launcher = resolve(__dirname, 'netboot.js');

let fx: StorageFixture;
let storage: Storage;
let dir: string;
let big: { path: string; sha256: string };

const bucket = () => storage.bucket('demo-netboot-cli');
let n = 0;
async function session(): Promise<{ uri: string; name: string }> {
  const name = `blobs/cli-${++n}-${Date.now()}`;
  const [uri] = await bucket().file(name).createResumableUpload({ metadata: { contentType: 'application/octet-stream' }, preconditionOpts: { ifGenerationMatch: 0 } });
  return { uri, name };
}

async function objectSha256(name: string): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const piece of bucket().file(name).createReadStream()) {
    hash.update(piece as Buffer);
    size += (piece as Buffer).length;
  }
  return { sha256: hash.digest('hex'), size };
}

interface ChildRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Peak VmHWM seen in /proc/<pid>/status, kB. */
  vmHwmKb: number;
}

/** Runs the CLI in a child; `killWhen` sees each stderr line and may return true to SIGKILL it. */
function runCli(args: string[], env: Record<string, string> = {}, killWhen?: (line: string) => boolean): Promise<ChildRun> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(process.execPath, [launcher, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let pending = '';
    let vmHwmKb = 0;
    const sample = async () => {
      try {
        const status = await readFile(`/proc/${child.pid}/status`, 'utf8');
        const m = /VmHWM:\s+(\d+) kB/.exec(status);
        if (m) vmHwmKb = Math.max(vmHwmKb, Number(m[1]));
      } catch {
        // gone
      }
    };
    const timer = setInterval(() => void sample(), 25);
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      pending += d.toString();
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      if (killWhen && lines.some(killWhen)) child.kill('SIGKILL');
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearInterval(timer);
      resolveRun({ code, signal, stdout, stderr, vmHwmKb });
    });
  });
}

function stats(stderr: string): { total: number; resumed_from: number; sent: number } {
  const m = /netboot: upload stats (\{.*\})/.exec(stderr);
  if (!m) throw new Error(`no stats line in:\n${stderr}`);
  return JSON.parse(m[1] as string) as { total: number; resumed_from: number; sent: number };
}

const say = (s: string) => process.stderr.write(`[netboot cli] ${s}\n`);

beforeAll(async () => {
  fx = await startStorage();
  storage = fx.storage;
  dir = await mkdtemp(join(tmpdir(), 'netboot-cli-test-'));
  big = await seededFile(join(dir, 'initrd-150m.img'), 'cli-initrd', BIG);
}, 120_000);

afterAll(async () => {
  await fx?.emu.stop();
  fx?.restoreEnv();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('resumable upload engine (embedded Storage emulator)', () => {
  it('uploads a 150 MiB file as one request by default, or in 8 MiB chunks; the object is the file', async () => {
    const { uri, name } = await session();
    const positions: number[] = [];
    const t0 = Date.now();
    const r = await uploadResumable({ uri, path: big.path, total: BIG, onProgress: (p) => positions.push(p.position) });
    const secs = (Date.now() - t0) / 1000;
    say(`in-process upload of 150 MiB: ${secs.toFixed(2)} s, ${(BIG / MiB / secs).toFixed(1)} MiB/s`);
    expect(r).toMatchObject({ total: BIG, resumedFrom: 0, sent: BIG });
    const chunked = await session();
    expect(await uploadResumable({ uri: chunked.uri, path: big.path, total: BIG, chunkSize: 8 * MiB })).toMatchObject({ total: BIG, resumedFrom: 0, sent: BIG });
    expect(await objectSha256(chunked.name)).toEqual({ sha256: big.sha256, size: BIG });
    expect(positions.at(-1)).toBe(BIG);
    expect(await objectSha256(name)).toEqual({ sha256: big.sha256, size: BIG });
    // A finished session: nothing more to send.
    expect(await querySession(uri, BIG)).toMatchObject({ complete: true });
    const again = await uploadResumable({ uri, path: big.path, total: BIG });
    expect(again).toMatchObject({ resumedFrom: BIG, sent: 0 });
  }, 120_000);

  it('refuses a chunk size that is not a multiple of 256 KiB, and a file that changed size', async () => {
    const { uri } = await session();
    await expect(uploadResumable({ uri, path: big.path, total: BIG, chunkSize: 300_000 })).rejects.toThrow(/multiple of 262144/);
    await expect(uploadResumable({ uri, path: big.path, total: BIG - 1 })).rejects.toThrow(/changed/);
  });

  it('an empty file and a file shorter than one chunk', async () => {
    const empty = await seededFile(join(dir, 'empty'), 'e', 0);
    const s1 = await session();
    expect(await uploadResumable({ uri: s1.uri, path: empty.path, total: 0 })).toMatchObject({ sent: 0 });
    expect(await objectSha256(s1.name)).toEqual({ sha256: empty.sha256, size: 0 });
    const small = await seededFile(join(dir, 'small'), 's', 300 * 1024 + 16);
    const s2 = await session();
    expect(await uploadResumable({ uri: s2.uri, path: small.path, total: 300 * 1024 + 16 })).toMatchObject({ sent: 300 * 1024 + 16 });
    expect(await objectSha256(s2.name)).toEqual({ sha256: small.sha256, size: 300 * 1024 + 16 });
  });

  it.each([
    { how: 'one request', chunkSize: undefined, cutRequest: 1 },
    { how: '8 MiB chunks', chunkSize: 8 * MiB, cutRequest: 2 },
  ])('retries a request whose connection drops, from the offset Storage reports, with backoff ($how)', async ({ chunkSize, cutRequest }) => {
    const file = await seededFile(join(dir, 'twenty'), 'drop', 20 * MiB);
    const { uri, name } = await session();
    // A proxy in front of the emulator that cuts one body-carrying request's connection after 3 MiB.
    const target = new URL(uri);
    let chunks = 0;
    const proxy = http.createServer((req, res) => {
      const isChunk = /^bytes \d+-/.test(req.headers['content-range'] ?? '');
      const cut = isChunk && ++chunks === cutRequest;
      const up = http.request({ host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers }, (ur) => {
        res.writeHead(ur.statusCode ?? 502, ur.headers);
        ur.pipe(res);
      });
      up.on('error', () => res.destroy());
      let got = 0;
      req.on('data', (d: Buffer) => {
        got += d.length;
        if (cut && got > 3 * MiB) {
          req.socket.destroy();
          up.destroy();
        }
      });
      req.pipe(up);
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', () => r()));
    const proxied = new URL(uri);
    proxied.port = String((proxy.address() as AddressInfo).port);
    const retries: string[] = [];
    try {
      const r = await uploadResumable({ uri: proxied.toString(), path: file.path, total: 20 * MiB, chunkSize, backoffMs: 50, onRetry: (i) => retries.push(`${i.attempt}:${i.delayMs}`) });
      say(`dropped connection: ${r.sent - 20 * MiB} bytes sent twice, retries ${retries.join(',')}`);
      expect(retries).toEqual(['1:50']);
      expect(r.sent).toBeGreaterThan(20 * MiB);
      expect(r.sent - 20 * MiB).toBeLessThanOrEqual(3 * MiB + 512 * 1024);
    } finally {
      proxy.close();
    }
    expect(await objectSha256(name)).toEqual({ sha256: file.sha256, size: 20 * MiB });
  }, 60_000);

  it('SIGKILLed mid-file and run again: the second run sends only the bytes Storage lacked', async () => {
    const { uri, name } = await session();
    const killAt = 60 * MiB;
    const first = await runCli(['upload-session-uri', uri, big.path], { NETBOOT_PROGRESS_INTERVAL_MS: '0' }, (line) => {
      const m = /^file: (\d+)\/\d+ bytes/.exec(line);
      return m !== null && Number(m[1]) >= killAt;
    });
    expect(first.signal).toBe('SIGKILL');
    const held = await querySession(uri, BIG);
    expect(held.complete).toBe(false);
    const offset = held.complete ? BIG : held.offset;
    expect(offset).toBeGreaterThan(0);
    expect(offset).toBeLessThan(BIG);
    expect(offset % 262_144).toBe(0);

    const second = await runCli(['upload-session-uri', uri, big.path]);
    expect(second.code, second.stderr).toBe(0);
    const s = stats(second.stderr);
    say(`killed at >= ${killAt} bytes sent; Storage held ${offset}; second run: resumed_from ${s.resumed_from}, sent ${s.sent} (= ${BIG} - ${offset}: ${s.sent === BIG - offset})`);
    expect(s).toEqual({ total: BIG, resumed_from: offset, sent: BIG - offset });
    expect(await objectSha256(name)).toEqual({ sha256: big.sha256, size: BIG });
  }, 180_000);

  it('prints plain progress lines when not on a terminal, and its JSON with --json; memory stays flat', async () => {
    const tiny = await seededFile(join(dir, 'tiny'), 't', MiB);
    const base = await runCli(['upload-session-uri', (await session()).uri, tiny.path]);
    expect(base.code, base.stderr).toBe(0);

    const { uri, name } = await session();
    const t0 = Date.now();
    const run = await runCli(['--json', 'upload-session-uri', uri, big.path]);
    const secs = (Date.now() - t0) / 1000;
    expect(run.code, run.stderr).toBe(0);
    // Plain lines, no terminal control sequences.
    expect(run.stderr).not.toContain('\u001b[');
    const lines = run.stderr.trim().split('\n');
    expect(lines[0]).toBe(`file: uploading ${BIG} of ${BIG} bytes (Storage holds 0)`);
    expect(lines.some((l) => /^file: \d+\/157286400 bytes \d+\.\d% [\d.]+ \S+\/s eta \S+$/.test(l))).toBe(true);
    // stdout is exactly the JSON document.
    const doc = JSON.parse(run.stdout) as { total: number; sent: number; object: { name: string; size: string } };
    expect(doc).toMatchObject({ total: BIG, sent: BIG, object: { name, size: String(BIG) } });
    const growthMiB = (run.vmHwmKb - base.vmHwmKb) / 1024;
    say(
      `child CLI upload of 150 MiB: ${secs.toFixed(2)} s wall (incl. start-up), VmHWM ${(run.vmHwmKb / 1024).toFixed(1)} MiB vs ${(base.vmHwmKb / 1024).toFixed(1)} MiB for a 1 MiB upload: growth ${growthMiB.toFixed(1)} MiB`,
    );
    expect(growthMiB).toBeLessThan(64);
    expect(await objectSha256(name)).toEqual({ sha256: big.sha256, size: BIG });
  }, 180_000);
});
