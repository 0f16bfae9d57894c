// Network namespaces of test and bench runs: each carries its creator's pid in its name, so a
// later run can delete what a killed one left behind. Synchronous, so it also serves on exit.
import { spawnSync } from 'node:child_process';

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Kills what still runs in a namespace, then deletes it (its veth pairs and their qdiscs go with it). */
export function deleteNamespace(ns: string): void {
  const pids = spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).stdout ?? '';
  for (const pid of pids.split(/\s+/).filter(Boolean)) {
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      // already gone
    }
  }
  spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
}

/** Deletes the namespaces `pattern` matches whose creator (the pid in capture group 1) is gone. */
export function deleteStaleNamespaces(pattern: RegExp): void {
  const list = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout ?? '';
  for (const line of list.split('\n')) {
    const name = line.split(' ')[0] ?? '';
    const m = pattern.exec(name);
    if (m && !pidAlive(Number(m[1]))) deleteNamespace(name);
  }
}
