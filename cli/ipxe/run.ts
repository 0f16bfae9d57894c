// Child processes of the build: output to a log (or kept for the error), lines to a callback.
import { spawn } from 'node:child_process';
import type { WriteStream } from 'node:fs';
import { IpxeBuildError } from './errors';

export interface RunOptions {
  cwd?: string;
  log?: WriteStream;
  onLine?: (line: string) => void;
}

/** Runs a command; rejects with its last output lines when it fails. */
export function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    const tail: string[] = [];
    let partial = '';
    const take = (d: Buffer) => {
      opts.log?.write(d);
      const lines = (partial + d.toString()).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        tail.push(line);
        if (tail.length > 20) tail.shift();
        opts.onLine?.(line);
      }
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    child.on('error', (e) => reject(new IpxeBuildError(`cannot run ${cmd}: ${e.message}`, 'toolchain')));
    child.on('close', (code, signal) => {
      if (partial) tail.push(partial);
      if (code === 0) resolve();
      else reject(new IpxeBuildError(`${cmd} ${args.slice(0, 4).join(' ')}... failed (${signal ?? `exit ${code}`}):\n${tail.join('\n')}`, 'build', opts.log?.path.toString()));
    });
  });
}
