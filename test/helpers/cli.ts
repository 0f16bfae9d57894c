import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';

/** What one `netboot` run printed and how it ended. */
export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** The CLI process's peak resident memory (VmHWM), KiB, sampled every 25 ms. */
  vmHwmKb: number;
}

const launcher = resolve(__dirname, '../../cli/netboot.js');

/** Runs `npx netboot ARGS` as a user would (a child process: node cli/netboot.js) with `env` over this process's environment. */
export function runNetboot(args: readonly string[], env: Record<string, string | undefined>): Promise<CliRun> {
  return new Promise((done, reject) => {
    const child = spawn(process.execPath, [launcher, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let vmHwmKb = 0;
    const timer = setInterval(() => {
      readFile(`/proc/${child.pid}/status`, 'utf8')
        .then((s) => (vmHwmKb = Math.max(vmHwmKb, Number(/VmHWM:\s+(\d+)/.exec(s)?.[1] ?? 0))))
        .catch(() => undefined);
    }, 25);
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      clearInterval(timer);
      done({ code, stdout, stderr, vmHwmKb });
    });
  });
}
