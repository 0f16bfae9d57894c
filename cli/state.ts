// The small state file that lets `profile set` resume: which upload session a given
// (service URL, machine, kernel, initrd, arguments) has open. One JSON file per key under
// $XDG_STATE_HOME/netboot/uploads/ (default ~/.local/state/netboot/uploads/).
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';

export interface SessionState {
  session_id: string;
  url: string;
  machine_id: string;
  mode: 'create' | 'replace';
  created_at: string;
}

export function stateDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.NETBOOT_STATE_DIR) return env.NETBOOT_STATE_DIR;
  const base = env.XDG_STATE_HOME && env.XDG_STATE_HOME.startsWith('/') ? env.XDG_STATE_HOME : join(homedir(), '.local', 'state');
  return join(base, 'netboot', 'uploads');
}

export function stateKey(parts: {
  url: string;
  machineId: string;
  kernelSha256: string;
  initrdSha256: string;
  kernelArgs: readonly string[];
  userDataSha256?: string;
  /** vendor-data's SHA-256, and the other architectures' files (`kernel.arm64` -> SHA-256), when given. */
  vendorDataSha256?: string;
  archFiles?: Readonly<Record<string, string>>;
}): string {
  // The newer inputs only when given: the keys of runs without them stay what they were.
  const key = [
    parts.url,
    parts.machineId,
    parts.kernelSha256,
    parts.initrdSha256,
    parts.kernelArgs,
    ...(parts.userDataSha256 ? [parts.userDataSha256] : []),
    ...(parts.vendorDataSha256 ? [{ vendor_data: parts.vendorDataSha256 }] : []),
    ...(parts.archFiles && Object.keys(parts.archFiles).length ? [parts.archFiles] : []),
  ];
  return createHash('sha256')
    .update(JSON.stringify(key))
    .digest('hex')
    .slice(0, 32);
}

export class StateStore {
  constructor(private readonly dir = stateDir()) {}

  private file(key: string) {
    return join(this.dir, `${key}.json`);
  }

  async load(key: string): Promise<SessionState | undefined> {
    try {
      const v = JSON.parse(await readFile(this.file(key), 'utf8')) as Partial<SessionState>;
      return typeof v.session_id === 'string' ? (v as SessionState) : undefined;
    } catch {
      return undefined; // missing or unreadable: start afresh
    }
  }

  async save(key: string, state: SessionState): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const tmp = `${this.file(key)}.${process.pid}.tmp`;
    await writeFile(tmp, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
    await rename(tmp, this.file(key)); // atomic: a kill never leaves half a file
  }

  async remove(key: string): Promise<void> {
    await rm(this.file(key), { force: true });
  }
}
