// An exclusive lock on a file, held by flock(1) in a child process: the kernel drops it when the
// holder dies (even by SIGKILL, as its stdin closes), so no stale lock outlives a killed build.
import { spawn } from 'node:child_process';

export type Release = () => Promise<void>;

/** Waits for the lock on `path`; `onWait` is called once if another process holds it. */
export function acquireLock(path: string, onWait?: () => void): Promise<Release> {
  return new Promise((resolve, reject) => {
    const child = spawn('flock', ['-x', path, 'sh', '-c', 'echo locked && exec cat >/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    let held = false;
    const waitNotice = onWait ? setTimeout(() => held || onWait(), 300) : undefined;
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', (e) => reject(new Error(`cannot run flock (util-linux) for ${path}: ${e.message}`)));
    const exited = new Promise<void>((done) => child.on('close', () => done()));
    child.on('close', (code) => {
      clearTimeout(waitNotice);
      if (!held) reject(new Error(`flock ${path} ended (${code}) before taking the lock: ${stderr.trim()}`));
    });
    child.stdout.on('data', (d: Buffer) => {
      if (held || !d.toString().includes('locked')) return;
      held = true;
      clearTimeout(waitNotice);
      resolve(async () => {
        child.stdin.end();
        await exited;
      });
    });
  });
}
