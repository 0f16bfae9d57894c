// `netboot profile set`: hash locally, open (or resume) an upload session, send what the
// service lacks straight to Storage, finalize.
import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { UsageError } from './errors';
import { ApiClient, ApiProblemError, type SessionFile, type UploadSession } from './api';
import { hashFile, type FileDigest } from './hash';
import { formatBytes, type ProgressReporter } from './progress';
import { CHUNK_MULTIPLE, SessionGoneError, uploadResumable } from './resumable';
import { StateStore, stateKey } from './state';

/** The architectures a profile may hold images of its own for (the service checks the same list: shared/domain/profile.ts). */
export const EXTRA_ARCHITECTURES = ['arm32', 'arm64', 'riscv32', 'riscv64', 'loong64'] as const;
export type ExtraArchitecture = (typeof EXTRA_ARCHITECTURES)[number];

/** One `--arch ARCH KERNEL INITRD`. */
export interface ArchFiles {
  arch: ExtraArchitecture;
  kernel: string;
  initrd: string;
}

export interface ProfileSetOptions {
  /** A machine id, or `default` (the default profile). */
  machineId: string;
  /** The default images: booted by i386 / x86_64 requests and requests without arch. */
  kernel: string;
  initrd: string;
  /** Other architectures' images (session files `kernel.<arch>` / `initrd.<arch>`). */
  archs?: ArchFiles[];
  kernelArgs: string[];
  /** cloud-init user-data (the text of --user-data FILE), sent as the session's `user_data`. */
  userData?: string;
  /** cloud-init vendor-data (the text of --vendor-data FILE), sent as the session's `vendor_data`. */
  vendorData?: string;
  chunkSize?: number;
  progress: ProgressReporter;
  state?: StateStore;
}

export interface FileStats {
  size: number;
  sha256: string;
  /** Skipped: the service already held this content. */
  held: boolean;
  /** Bytes Storage had when this run started uploading it. */
  resumed_from: number;
  /** Bytes this run sent. */
  sent: number;
  seconds: number;
}

export interface ProfileSetResult {
  profile: Record<string, unknown>;
  /** 201 created / 200 replaced. */
  status: number;
  mode: 'create' | 'replace';
  session_id: string;
  resumed: boolean;
  /** Per file name: kernel, initrd, kernel.<arch>, initrd.<arch>. */
  files: Record<string, FileStats>;
}

/** A file's name in the upload session: `kernel`, `initrd`, or `kernel.arm64` / `initrd.arm64` ... */
type FileName = string;

const sha256Of = (text: string) => createHash('sha256').update(text).digest('hex');

export async function profileSet(api: ApiClient, opts: ProfileSetOptions): Promise<ProfileSetResult> {
  const store = opts.state ?? new StateStore();
  const paths: Record<FileName, string> = { kernel: resolve(opts.kernel), initrd: resolve(opts.initrd) };
  for (const a of opts.archs ?? []) {
    paths[`kernel.${a.arch}`] = resolve(a.kernel);
    paths[`initrd.${a.arch}`] = resolve(a.initrd);
  }
  const FILES = Object.keys(paths);
  const options: Record<FileName, string> = Object.fromEntries(FILES.map((name) => [name, optionOf(name)]));
  try {
    return await setProfile(api, opts, store, paths, FILES, options);
  } catch (err) {
    if (err instanceof ApiProblemError) err.hint ??= hintFor(err, opts.machineId, paths, options);
    throw err;
  }
}

/** The command-line option that named a session file: `--kernel`, `--initrd`, `--arch arm64` (kernel) ... */
function optionOf(name: FileName): string {
  const [kind, arch] = name.split('.') as [string, string | undefined];
  return arch ? `--arch ${arch} (${kind})` : `--${kind}`;
}

/** A machine id as the service takes them: `default` or a UUIDv7 (shared/domain/ids.ts). */
const machineIdPattern = /^[\da-f]{8}-[\da-f]{4}-7[\da-f]{3}-[89ab][\da-f]{3}-[\da-f]{12}$/i;

/**
 * Everything that can be known before a byte is read, cheapest first: the id's form; each file
 * exists, is a regular file, readable and not empty (stat and access: nothing read); the machine
 * exists (one GET); whether it has a profile (one GET: create or replace). Then hashing may take
 * minutes without ending in an answer it could have had at once.
 */
async function preflight(api: ApiClient, opts: ProfileSetOptions, paths: Record<FileName, string>, FILES: FileName[], options: Record<FileName, string>): Promise<'create' | 'replace'> {
  const id = opts.machineId.trim();
  if (id !== 'default' && !machineIdPattern.test(id)) {
    throw new UsageError(`${JSON.stringify(opts.machineId)} is not a machine id: give the id \`netboot machine add\` printed (a UUIDv7; \`netboot machine list\` shows them), or \`default\` for the default profile`);
  }
  for (const name of FILES) {
    const path = paths[name] as string;
    const what = `${options[name]} ${path}`;
    let st;
    try {
      st = await stat(path);
      await access(path, constants.R_OK);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') throw new UsageError(`${what}: no such file; check the path`);
      if (code === 'EACCES') throw new UsageError(`${what}: not readable by this user (permission denied)`);
      throw new UsageError(`${what}: cannot be read (${code ?? (e as Error).message})`);
    }
    if (st.isDirectory()) throw new UsageError(`${what} is a directory; give the ${name.split('.')[0]} image file in it`);
    if (!st.isFile()) throw new UsageError(`${what} is not a regular file (a pipe or device): its size must be known before sending; copy it to a file first`);
    if (st.size === 0) throw new UsageError(`${what} is empty (0 bytes); a ${name.split('.')[0]} image cannot be`);
  }
  if (id !== 'default') {
    try {
      await api.request('GET', `/api/v1/machines/${encodeURIComponent(id)}`);
    } catch (err) {
      if (err instanceof ApiProblemError && err.status === 404) err.hint = `no machine ${id} is registered: \`netboot machine list\` shows the machines, \`netboot machine add --mac MAC\` registers one`;
      throw err;
    }
  }
  return decideMode(api, opts.machineId);
}

/** A problem the service answered, in the user's terms: the files by their options and paths, the CLI's commands. */
function hintFor(err: ApiProblemError, machineId: string, paths: Record<FileName, string>, options: Record<FileName, string>): string | undefined {
  const fileOf = (field: string) => {
    const name = field.split(/\.(size|sha256)$/)[0] as string;
    return paths[name] ? `${options[name]} ${paths[name]}` : undefined;
  };
  if (err.slug === 'file-too-large') {
    const file = fileOf(String(err.problem.field ?? ''));
    const max = Number(err.problem.max_size);
    if (file) return `${file} is ${formatBytes(Number(err.problem.file_size))}; this service takes at most ${formatBytes(max)} (KERNEL_MAX_BYTES / INITRD_MAX_BYTES in its configuration)`;
  }
  const fields = err.problem.invalid_fields;
  if (Array.isArray(fields)) {
    const said = (fields as { field?: string; reason?: string }[]).map((f) => {
      const file = fileOf(String(f.field ?? ''));
      return file ? `${file}: ${f.reason ?? 'refused'}` : undefined;
    });
    if (said.some(Boolean)) return said.filter(Boolean).join('; ');
  }
  if (err.slug === 'unknown-machine' || err.slug === 'machine-not-found') return `no machine ${machineId} is registered: \`netboot machine list\` shows the machines`;
  return undefined;
}

async function setProfile(api: ApiClient, opts: ProfileSetOptions, store: StateStore, paths: Record<FileName, string>, FILES: FileName[], options: Record<FileName, string>): Promise<ProfileSetResult> {
  // Create or replace is known before hashing (the preflight asked); used by the first openSession.
  const mode = await preflight(api, opts, paths, FILES, options);
  let earlyMode: Promise<'create' | 'replace'> | undefined = Promise.resolve(mode);
  const digests = {} as Record<FileName, FileDigest>;
  const hashed = await Promise.all(
    FILES.map((name) =>
      hashFile(paths[name] as string).catch((err: NodeJS.ErrnoException) => {
        // Checked readable a moment ago: it changed meanwhile.
        throw new Error(`cannot read ${options[name]} ${paths[name]}: ${err.code ?? err.message} (it changed while netboot read it)`);
      }),
    ),
  );
  for (const [i, name] of FILES.entries()) {
    const digest = hashed[i] as FileDigest;
    digests[name] = digest;
    opts.progress.log(`${name}: ${paths[name]} ${digest.size} bytes sha256 ${digest.sha256}`);
  }
  const key = stateKey({
    url: api.base,
    machineId: opts.machineId,
    kernelSha256: (digests.kernel as FileDigest).sha256,
    initrdSha256: (digests.initrd as FileDigest).sha256,
    kernelArgs: opts.kernelArgs,
    userDataSha256: opts.userData === undefined ? undefined : sha256Of(opts.userData),
    vendorDataSha256: opts.vendorData === undefined ? undefined : sha256Of(opts.vendorData),
    archFiles: Object.fromEntries(FILES.filter((name) => name.includes('.')).map((name) => [name, (digests[name] as FileDigest).sha256])),
  });

  const stats = {} as Record<FileName, FileStats>;
  let resumed = false;
  let session: UploadSession | undefined;

  // A session this command opened earlier (killed, or lost its network) for exactly these inputs.
  const saved = await store.load(key);
  if (saved) {
    try {
      const got = await api.request<UploadSession>('GET', `/api/v1/uploads/${encodeURIComponent(saved.session_id)}`);
      if (got.body.state === 'open') {
        session = got.body;
        resumed = true;
        opts.progress.log(`resuming upload session ${session.id} (${session.mode})`);
      } else if (got.body.state === 'finalized' && got.body.profile) {
        // Killed after finalizing, before cleaning up: the work is done.
        await store.remove(key);
        for (const name of FILES) {
          const digest = digests[name] as FileDigest;
          stats[name] = { ...digest, held: true, resumed_from: digest.size, sent: 0, seconds: 0 };
        }
        return { profile: got.body.profile, status: got.body.mode === 'create' ? 201 : 200, mode: got.body.mode, session_id: got.body.id, resumed: true, files: stats };
      } else {
        opts.progress.log(`upload session ${saved.session_id} is ${got.body.state}: starting a new one`);
      }
    } catch (err) {
      if (!(err instanceof ApiProblemError) || (err.status !== 404 && err.status !== 410)) throw err;
      opts.progress.log(`upload session ${saved.session_id} is gone: starting a new one`);
    }
    if (!session) await store.remove(key);
  }

  let redecided = false;
  let restarted = false;
  let resent = false;
  for (;;) {
    try {
      if (!session) {
        const early = earlyMode;
        earlyMode = undefined; // a later attempt decides again (the profile may have changed)
        session = await openSession(api, store, key, opts, digests, early);
      }
      for (const name of FILES) {
        const file = session.files[name];
        if (!file) throw new Error(`upload session ${session.id} has no ${name}`);
        stats[name] = await sendFile(name, file, paths[name] as string, opts);
      }
      // Finalize may run twice (an answer lost on the way): the second returns the same profile.
      const fin = await api.request<Record<string, unknown>>('POST', `/api/v1/uploads/${encodeURIComponent(session.id)}/finalize`, { idempotent: true });
      await store.remove(key);
      // 201/200 from the mode, not the answer: a finalize asked again after a lost answer gets 200 for a profile it created.
      return { profile: fin.body, status: session.mode === 'create' ? 201 : 200, mode: session.mode, session_id: session.id, resumed, files: stats };
    } catch (err) {
      const slug = err instanceof ApiProblemError ? err.slug : '';
      if (!redecided && (slug === 'boot-profile-exists' || slug === 'boot-profile-not-found')) {
        // Somebody created or deleted the profile since we chose the mode (at open or finalize): choose again, once.
        redecided = true;
        opts.progress.log(`${slug}: deciding create or replace again`);
      } else if (!restarted && isSessionGone(err)) {
        // The session expired, was cancelled, or its Storage session vanished: start over once.
        restarted = true;
        opts.progress.log(`upload session ${session?.id ?? ''} is no longer usable (${err instanceof Error ? err.message : String(err)}): starting a new one`);
      } else if (!resent && slug === 'upload-incomplete' && session) {
        // Storage lacks something the service expected: ask Storage again and send what it lacks, once.
        resent = true;
        opts.progress.log(`upload-incomplete at finalize: checking the uploads again`);
        continue;
      } else {
        if (slug === 'checksum-mismatch' || isSessionGone(err)) await store.remove(key);
        throw err;
      }
      await store.remove(key);
      session = undefined;
    }
  }
}

function isSessionGone(err: unknown): boolean {
  if (err instanceof SessionGoneError) return true;
  return err instanceof ApiProblemError && ['upload-session-expired', 'upload-session-cancelled', 'upload-session-not-found'].includes(err.slug);
}

async function openSession(api: ApiClient, store: StateStore, key: string, opts: ProfileSetOptions, digests: Record<FileName, FileDigest>, earlyMode?: Promise<'create' | 'replace'>): Promise<UploadSession> {
  const mode = await (earlyMode ?? decideMode(api, opts.machineId));
  const res = await api.request<UploadSession>('POST', '/api/v1/uploads', {
    json: {
      machine_id: opts.machineId,
      mode,
      kernel_args: opts.kernelArgs,
      ...(opts.userData === undefined ? {} : { user_data: opts.userData }),
      ...(opts.vendorData === undefined ? {} : { vendor_data: opts.vendorData }),
      // kernel, initrd, kernel.<arch>, initrd.<arch>: { size, sha256 }
      ...Object.fromEntries(Object.entries(digests).map(([name, d]) => [name, { size: d.size, sha256: d.sha256 }])),
    },
  });
  const session = res.body;
  await store.save(key, { session_id: session.id, url: api.base, machine_id: opts.machineId, mode, created_at: new Date().toISOString() });
  opts.progress.log(`upload session ${session.id} opened (${mode}${session.expires_at ? `, expires ${session.expires_at}` : ''})`);
  return session;
}

/** 404 on the machine's profile: create; 200: replace. */
export async function decideMode(api: ApiClient, machineId: string): Promise<'create' | 'replace'> {
  try {
    await api.request('GET', `/api/v1/boot/${encodeURIComponent(machineId)}/profile`);
    return 'replace';
  } catch (err) {
    if (err instanceof ApiProblemError && err.status === 404 && err.slug === 'boot-profile-not-found') return 'create';
    throw err;
  }
}

/** undefined (the default): each file as one request; chunks only when asked for (--chunk-size). */
function chunkSizeFor(file: SessionFile, wanted: number | undefined): number | undefined {
  if (wanted === undefined) return undefined;
  const multiple = file.upload?.chunk_multiple || CHUNK_MULTIPLE;
  return Math.max(multiple, Math.floor(wanted / multiple) * multiple);
}

async function sendFile(name: FileName, file: SessionFile, path: string, opts: ProfileSetOptions): Promise<FileStats> {
  const base = { size: file.size, sha256: file.sha256 };
  if (!file.upload) {
    opts.progress.log(`${name}: the service already has it (${formatBytes(file.size)}), nothing to send`);
    return { ...base, held: true, resumed_from: file.size, sent: 0, seconds: 0 };
  }
  const began = Date.now();
  let bar: ReturnType<ProgressReporter['file']> | undefined;
  const result = await uploadResumable({
    uri: file.upload.url,
    path,
    total: file.size,
    chunkSize: chunkSizeFor(file, opts.chunkSize),
    onProgress: (p) => {
      bar ??= opts.progress.file(name, p.total, p.position);
      bar.update(p.position);
    },
    onRetry: ({ attempt, delayMs, error }) => (bar ? bar.note(`${error}; retry ${attempt} in ${delayMs} ms`) : opts.progress.log(`${name}: ${error}; retry ${attempt} in ${delayMs} ms`)),
  });
  const seconds = (Date.now() - began) / 1000;
  const summary =
    result.resumedFrom === result.total
      ? `Storage already held all ${result.total} bytes, sent 0`
      : `sent ${result.sent} bytes (Storage held ${result.resumedFrom} of ${result.total}) in ${seconds.toFixed(1)} s, ${formatBytes(Math.round(result.sent / Math.max(seconds, 0.001)))}/s`;
  bar ??= opts.progress.file(name, result.total, result.resumedFrom);
  bar.done(summary);
  return { ...base, held: false, resumed_from: result.resumedFrom, sent: result.sent, seconds };
}
