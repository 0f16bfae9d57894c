// `netboot profile set`: hash locally, open (or resume) an upload session, send what the
// service lacks straight to Storage, finalize.
import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { UsageError } from './errors';
import { ApiClient, ApiProblemError, isPartsUpload, type PartsUpload, type SessionFile, type UploadSession } from './api';
import { hashFile, type FileDigest } from './hash';
import { formatBytes, type ProgressReporter } from './progress';
import { CHUNK_MULTIPLE, SessionGoneError, uploadResumable } from './resumable';
import { StateStore, stateKey } from './state';
import { DigestCache, fileIdentity } from './digest-cache';

/** Parts in flight at once: the next part's request is under way while one ends, so the link never idles between parts. */
const PART_CONCURRENCY = 2;
/** How long one verify call follows the upload (the API allows 120 s; the client's socket timeout is 60 s). */
const FOLLOW_WAIT_SECONDS = 30;

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
  /**
   * parts (the default): files the digest cache does not know are sent at once, in parts the service
   * hashes as they land, while this side hashes them alongside (declared at finalize); resumable:
   * every file hashed first, then one resumable session each (the protocol before parts).
   */
  transfer?: 'parts' | 'resumable';
  progress: ProgressReporter;
  state?: StateStore;
  digestCache?: DigestCache;
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
 * exists and whether it has a profile (create or replace): two GETs side by side. Then hashing may take
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
  // Both questions at once (one round trip, not two); an unknown machine is the answer that explains the other's.
  const machine =
    id === 'default'
      ? Promise.resolve()
      : api.request('GET', `/api/v1/machines/${encodeURIComponent(id)}`).then(
          () => undefined,
          (err: unknown) => {
            if (err instanceof ApiProblemError && err.status === 404) err.hint = `no machine ${id} is registered: \`netboot machine list\` shows the machines, \`netboot machine add --mac MAC\` registers one`;
            throw err;
          },
        );
  const [known, mode] = await Promise.allSettled([machine, decideMode(api, opts.machineId)]);
  if (known.status === 'rejected') throw known.reason;
  if (mode.status === 'rejected') throw mode.reason;
  return mode.value;
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
  const transfer = opts.transfer ?? 'parts';
  const cache = opts.digestCache ?? new DigestCache();
  const hashOf = (name: FileName) =>
    hashFile(paths[name] as string).catch((err: NodeJS.ErrnoException) => {
      // Checked readable a moment ago: it changed meanwhile.
      throw new Error(`cannot read ${options[name]} ${paths[name]}: ${err.code ?? err.message} (it changed while netboot read it)`);
    });
  // Known digests (the cache's, or hashed first); with transfer parts the others are hashed while they are sent.
  const identities = Object.fromEntries(await Promise.all(FILES.map(async (name) => [name, await fileIdentity(paths[name] as string)] as const))) as Record<FileName, string>;
  const known = {} as Record<FileName, FileDigest | undefined>;
  for (const name of FILES) known[name] = await cache.get(identities[name] as string);
  const pending = {} as Record<FileName, Promise<FileDigest>>;
  for (const name of FILES) if (!known[name]) pending[name] = hashOf(name);
  if (transfer === 'resumable') for (const name of FILES) known[name] ??= await pending[name];
  for (const name of Object.keys(pending)) void pending[name]?.catch(() => undefined); // awaited later; never an unhandled rejection meanwhile
  const sizes = {} as Record<FileName, number>;
  for (const name of FILES) {
    const digest = known[name];
    sizes[name] = digest?.size ?? (await stat(paths[name] as string)).size;
    opts.progress.log(digest ? `${name}: ${paths[name]} ${digest.size} bytes sha256 ${digest.sha256}` : `${name}: ${paths[name]} ${sizes[name]} bytes (hashed while it is sent)`);
  }
  // Resumable state is keyed by content where it is known, by the file's identity where it is not yet.
  const keyOf = (name: FileName) => known[name]?.sha256 ?? `file:${identities[name]}`;
  const key = stateKey({
    url: api.base,
    machineId: opts.machineId,
    kernelSha256: keyOf('kernel'),
    initrdSha256: keyOf('initrd'),
    kernelArgs: opts.kernelArgs,
    userDataSha256: opts.userData === undefined ? undefined : sha256Of(opts.userData),
    vendorDataSha256: opts.vendorData === undefined ? undefined : sha256Of(opts.vendorData),
    archFiles: Object.fromEntries(FILES.filter((name) => name.includes('.')).map((name) => [name, keyOf(name)])),
  });
  /** Writing fresh digests to the cache (which never fails a run) goes on beside finalize; awaited before the command returns. */
  let remembering = Promise.resolve();
  /** Every file's digest: the known ones, the others once their hashing ends (remembered in the cache). */
  const allDigests = async (): Promise<Record<FileName, FileDigest>> => {
    const out = {} as Record<FileName, FileDigest>;
    const fresh = new Map<string, FileDigest>();
    for (const name of FILES) {
      out[name] = known[name] ?? (await (pending[name] as Promise<FileDigest>));
      if (!known[name]) fresh.set(identities[name] as string, out[name]);
    }
    if ((await Promise.all(FILES.map((name) => fileIdentity(paths[name] as string)))).some((id, i) => id !== identities[FILES[i] as FileName])) {
      throw new Error('a file changed while netboot read it; run the command again');
    }
    remembering = cache.put(fresh);
    return out;
  };

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
        const digests = await allDigests();
        for (const name of FILES) {
          const digest = digests[name] as FileDigest;
          stats[name] = { ...digest, held: true, resumed_from: digest.size, sent: 0, seconds: 0 };
        }
        await remembering;
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
  /** The session was opened by this run and nothing has been sent to it yet. */
  let freshSession = false;
  let resent = false;
  for (;;) {
    try {
      if (!session) {
        const early = earlyMode;
        earlyMode = undefined; // a later attempt decides again (the profile may have changed)
        freshSession = true;
        session = await openSession(api, store, key, opts, transfer, Object.fromEntries(FILES.map((name) => [name, { size: sizes[name] as number, ...(known[name] ? { sha256: (known[name] as FileDigest).sha256 } : {}) }])), early);
      }
      const open = session;
      for (const name of FILES) if (!open.files[name]) throw new Error(`upload session ${open.id} has no ${name}`);
      const sendStats = await sendFiles(api, open, FILES, paths, opts, freshSession);
      freshSession = false;
      // Files sent in parts without a declared SHA-256 declare it now: the service compares it with what it hashed.
      const digests = await allDigests();
      const late = FILES.filter((name) => open.files[name]?.sha256 === null && isPartsUpload(open.files[name]?.upload ?? null));
      for (const name of FILES) stats[name] = { ...(sendStats[name] as Omit<FileStats, 'sha256'>), sha256: (digests[name] as FileDigest).sha256 };
      // Finalize may run twice (an answer lost on the way): the second returns the same profile.
      const fin = await api.request<Record<string, unknown>>('POST', `/api/v1/uploads/${encodeURIComponent(open.id)}/finalize`, {
        idempotent: true,
        ...(late.length ? { json: { files: Object.fromEntries(late.map((name) => [name, { sha256: (digests[name] as FileDigest).sha256 }])) } } : {}),
      });
      await Promise.all([store.remove(key), remembering]);
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

async function openSession(api: ApiClient, store: StateStore, key: string, opts: ProfileSetOptions, transfer: 'parts' | 'resumable', files: Record<FileName, { size: number; sha256?: string }>, earlyMode?: Promise<'create' | 'replace'>): Promise<UploadSession> {
  const mode = await (earlyMode ?? decideMode(api, opts.machineId));
  const res = await api.request<UploadSession>('POST', '/api/v1/uploads', {
    json: {
      machine_id: opts.machineId,
      mode,
      ...(transfer === 'parts' ? { transfer } : {}),
      kernel_args: opts.kernelArgs,
      ...(opts.userData === undefined ? {} : { user_data: opts.userData }),
      ...(opts.vendorData === undefined ? {} : { vendor_data: opts.vendorData }),
      // kernel, initrd, kernel.<arch>, initrd.<arch>: { size, sha256 } (sha256 left out: declared at finalize)
      ...files,
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

/** undefined (the default): each file (or part) as one request; chunks only when asked for (--chunk-size). */
function chunkSizeFor(file: SessionFile, wanted: number | undefined): number | undefined {
  if (wanted === undefined) return undefined;
  const multiple = (file.upload && !isPartsUpload(file.upload) ? file.upload.chunk_multiple : 0) || CHUNK_MULTIPLE;
  return Math.max(multiple, Math.floor(wanted / multiple) * multiple);
}

type SendStats = Omit<FileStats, 'sha256'>;

/** Sends what the session lacks: whole files one after another, then every parts file's parts. */
async function sendFiles(api: ApiClient, session: UploadSession, FILES: FileName[], paths: Record<FileName, string>, opts: ProfileSetOptions, fresh: boolean): Promise<Record<FileName, SendStats>> {
  const stats = {} as Record<FileName, SendStats>;
  const parted: FileName[] = [];
  for (const name of FILES) {
    const file = session.files[name] as SessionFile;
    if (isPartsUpload(file.upload)) parted.push(name);
    else stats[name] = await sendFile(name, file, paths[name] as string, opts);
  }
  if (parted.length > 0) Object.assign(stats, await sendParts(api, session, parted, paths, opts, fresh));
  return stats;
}

/**
 * The parts of every parts file, PART_CONCURRENCY at a time (in file and part order), each through
 * its own resumable session (so a broken part resumes where Storage stopped), while a verify call
 * follows them: the service hashes each part as it lands.
 */
async function sendParts(api: ApiClient, session: UploadSession, names: FileName[], paths: Record<FileName, string>, opts: ProfileSetOptions, fresh: boolean): Promise<Record<FileName, SendStats>> {
  const began = Date.now();
  const follower = new PartsFollower(api, session, opts.progress);
  interface Sending {
    file: SessionFile;
    positions: number[];
    sent: number;
    resumedFrom: number;
    bar?: ReturnType<ProgressReporter['file']>;
  }
  const files = new Map<FileName, Sending>(names.map((name) => {
    const file = session.files[name] as SessionFile;
    return [name, { file, positions: (file.upload as PartsUpload).parts.map(() => 0), sent: 0, resumedFrom: 0 }];
  }));
  const queue = names.flatMap((name) => (files.get(name)?.file.upload as PartsUpload).parts.map((part, index) => ({ name, part, index })));
  const worker = async () => {
    for (let next = queue.shift(); next; next = queue.shift()) {
      const { name, part, index } = next;
      const state = files.get(name) as Sending;
      const result = await uploadResumable({
        uri: part.url,
        path: paths[name] as string,
        total: part.size,
        fileOffset: part.offset,
        fileSize: state.file.size,
        chunkSize: chunkSizeFor(state.file, opts.chunkSize),
        fresh,
        onProgress: (p) => {
          state.positions[index] = p.position;
          state.bar ??= opts.progress.file(name, state.file.size, 0);
          state.bar.update(state.positions.reduce((a, b) => a + b, 0));
        },
        onRetry: ({ attempt, delayMs, error }) => opts.progress.log(`${name} part ${part.number}: ${error}; retry ${attempt} in ${delayMs} ms`),
      });
      state.sent += result.sent;
      state.resumedFrom += result.resumedFrom;
    }
  };
  try {
    await Promise.all(Array.from({ length: PART_CONCURRENCY }, worker));
  } catch (err) {
    follower.stop();
    throw err;
  }
  await follower.done;
  const seconds = (Date.now() - began) / 1000;
  const stats = {} as Record<FileName, SendStats>;
  for (const [name, state] of files) {
    const { parts } = state.file.upload as PartsUpload;
    state.bar ??= opts.progress.file(name, state.file.size, state.file.size);
    state.bar.done(state.sent === 0 ? `Storage already held all ${state.file.size} bytes, sent 0` : `sent ${state.sent} bytes in ${parts.length} parts (Storage held ${state.resumedFrom} of ${state.file.size}) in ${seconds.toFixed(1)} s`);
    stats[name] = { size: state.file.size, held: false, resumed_from: state.resumedFrom, sent: state.sent, seconds };
  }
  return stats;
}

/**
 * POST .../verify?wait=30, one call after another while the parts are sent: the service hashes
 * each part as it lands, so that by finalize it has hashed the whole file. Failures are left to
 * finalize (which then hashes what is missing itself).
 */
class PartsFollower {
  private readonly abort = new AbortController();
  readonly done: Promise<void>;

  constructor(
    private readonly api: ApiClient,
    private readonly session: UploadSession,
    private readonly progress: ProgressReporter,
  ) {
    this.done = this.follow();
  }

  /** The parts will not all arrive (the send failed): the call in flight ends now. */
  stop(): void {
    this.abort.abort();
  }

  private async follow(): Promise<void> {
    const path = `/api/v1/uploads/${encodeURIComponent(this.session.id)}/verify?wait=${FOLLOW_WAIT_SECONDS}`;
    while (!this.abort.signal.aborted) {
      try {
        const asked = Date.now();
        const { body } = await this.api.request<UploadSession>('POST', path, { idempotent: true, signal: this.abort.signal });
        if (Object.values(body.files).every((file) => !file || !isPartsUpload(file.upload) || file.verified_bytes === file.size)) return;
        // Back before its time without every part: a stored part it cannot take; finalize says which.
        if (Date.now() - asked < (FOLLOW_WAIT_SECONDS - 1) * 1000) return;
      } catch (err) {
        if (!this.abort.signal.aborted) this.progress.log(`following the upload failed (${err instanceof Error ? err.message : String(err)}); finalize will hash what is missing`);
        return;
      }
    }
  }
}

async function sendFile(name: FileName, file: SessionFile, path: string, opts: ProfileSetOptions): Promise<SendStats> {
  const base = { size: file.size };
  if (!file.upload || isPartsUpload(file.upload)) {
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
