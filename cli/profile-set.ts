// `netboot profile set`: hash locally, open (or resume) an upload session, send what the
// service lacks straight to Storage, finalize.
import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import { ApiClient, ApiProblemError, type SessionFile, type UploadSession } from './api';
import { hashFile, type FileDigest } from './hash';
import { formatBytes, type ProgressReporter } from './progress';
import { CHUNK_MULTIPLE, DEFAULT_CHUNK_SIZE, SessionGoneError, uploadResumable } from './resumable';
import { StateStore, stateKey } from './state';

export interface ProfileSetOptions {
  machineId: string;
  kernel: string;
  initrd: string;
  kernelArgs: string[];
  /** cloud-init user-data (the text of --user-data FILE), sent as the session's `user_data`. */
  userData?: string;
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
  files: { kernel: FileStats; initrd: FileStats };
}

const FILES = ['kernel', 'initrd'] as const;
type FileName = (typeof FILES)[number];

export async function profileSet(api: ApiClient, opts: ProfileSetOptions): Promise<ProfileSetResult> {
  const store = opts.state ?? new StateStore();
  const paths = { kernel: resolve(opts.kernel), initrd: resolve(opts.initrd) };
  const digests = {} as Record<FileName, FileDigest>;
  for (const name of FILES) {
    digests[name] = await hashFile(paths[name]).catch((err: NodeJS.ErrnoException) => {
      throw new Error(`cannot read ${name} ${paths[name]}: ${err.code ?? err.message}`);
    });
    opts.progress.log(`${name}: ${paths[name]} ${digests[name].size} bytes sha256 ${digests[name].sha256}`);
  }
  const key = stateKey({ url: api.base, machineId: opts.machineId, kernelSha256: digests.kernel.sha256, initrdSha256: digests.initrd.sha256, kernelArgs: opts.kernelArgs, userDataSha256: opts.userData === undefined ? undefined : createHash('sha256').update(opts.userData).digest('hex') });

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
        for (const name of FILES) stats[name] = { ...digests[name], held: true, resumed_from: digests[name].size, sent: 0, seconds: 0 };
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
      session ??= await openSession(api, store, key, opts, digests);
      for (const name of FILES) stats[name] = await sendFile(name, session.files[name], paths[name], opts);
      const fin = await api.request<Record<string, unknown>>('POST', `/api/v1/uploads/${encodeURIComponent(session.id)}/finalize`);
      await store.remove(key);
      return { profile: fin.body, status: fin.status, mode: session.mode, session_id: session.id, resumed, files: stats };
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

async function openSession(api: ApiClient, store: StateStore, key: string, opts: ProfileSetOptions, digests: Record<FileName, FileDigest>): Promise<UploadSession> {
  const mode = await decideMode(api, opts.machineId);
  const res = await api.request<UploadSession>('POST', '/api/v1/uploads', {
    json: { machine_id: opts.machineId, mode, kernel_args: opts.kernelArgs, ...(opts.userData === undefined ? {} : { user_data: opts.userData }), kernel: digests.kernel, initrd: digests.initrd },
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

function chunkSizeFor(file: SessionFile, wanted: number | undefined): number {
  const multiple = file.upload?.chunk_multiple || CHUNK_MULTIPLE;
  const size = wanted ?? DEFAULT_CHUNK_SIZE;
  return Math.max(multiple, Math.floor(size / multiple) * multiple);
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
