import { createSHA256 } from 'hash-wasm';
import { api, ApiProblem, must, problemOf, type BootProfile, type UploadSession } from './api/client';
import { forgetUpload, savedKey, savedUpload, type SavedSession } from './upload-state';

/** Every chunk but the last is a multiple of the session's chunk_multiple (256 KiB). */
const chunkBytes = 8 * 1024 * 1024;

/**
 * A profile through an upload session, as `netboot profile set` does it: every file hashed in
 * the browser while it is read (hash-wasm's SHA-256 over File.stream(): a chunk at a time,
 * never the whole file), a session opened with the sizes and digests, each file the service
 * lacks sent straight to Storage through its resumable session URI, in slices of the File
 * (Blob.slice: read from disk as sent), then finalize. The session id is kept in
 * sessionStorage: after a reload (or a lost connection) the same files resume where Storage
 * says it stands.
 */

export type FilePhase = 'waiting' | 'hashing' | 'uploading' | 'held' | 'done';

export interface FileProgress {
  name: string;
  phase: FilePhase;
  /** Bytes hashed or confirmed/sent so far in this phase. */
  done: number;
  total: number;
  /** Bytes per second over this phase so far. */
  rate: number;
  /** Seconds left at that rate. */
  secondsLeft: number | null;
  /** Bytes Storage already held when this page started sending (a resumed upload). */
  resumedFrom: number;
}

export interface ProfileInput {
  machineId: string;
  /** Session file name (kernel, initrd, kernel.arm64, ...) to File. */
  files: Record<string, File>;
  kernelArgs: string[];
  userData?: string;
  vendorData?: string;
}

export interface UploadResult {
  profile: BootProfile;
  sessionId: string;
  resumed: boolean;
  /** Per file: bytes this page sent to Storage. */
  sent: Record<string, number>;
}

export async function sha256OfFile(file: File, onProgress: (done: number) => void): Promise<string> {
  const hasher = await createSHA256();
  hasher.init();
  const reader = file.stream().getReader();
  let done = 0;
  for (;;) {
    const chunk = await reader.read();
    if (chunk.done) break;
    hasher.update(chunk.value);
    done += chunk.value.byteLength;
    onProgress(done);
  }
  return hasher.digest('hex');
}

class Meter {
  private readonly started = performance.now();
  constructor(
    private readonly total: number,
    private readonly from = 0,
  ) {}
  read(done: number): { rate: number; secondsLeft: number | null } {
    const seconds = (performance.now() - this.started) / 1000;
    const rate = seconds > 0.05 ? (done - this.from) / seconds : 0;
    return { rate, secondsLeft: rate > 0 ? (this.total - done) / rate : null };
  }
}

export async function uploadProfile(input: ProfileInput, report: (p: FileProgress) => void, signal?: AbortSignal): Promise<UploadResult> {
  const names = Object.keys(input.files);
  const progress = (name: string, phase: FilePhase, done: number, meter?: Meter, resumedFrom = 0) => {
    const total = (input.files[name] as File).size;
    report({ name, phase, done, total, resumedFrom, ...(meter ? meter.read(done) : { rate: 0, secondsLeft: null }) });
  };
  names.forEach((name) => progress(name, 'waiting', 0));

  // 1. Digests, one file after the other (the disk reads them in turn anyway).
  const digests: SavedSession['digests'] = {};
  for (const name of names) {
    const file = input.files[name] as File;
    const meter = new Meter(file.size);
    const sha256 = await sha256OfFile(file, (done) => progress(name, 'hashing', done, meter));
    digests[name] = { size: file.size, sha256 };
    if (signal?.aborted) throw new DOMException('cancelled', 'AbortError');
  }

  // 2. The session: the one this tab opened for exactly these inputs (a reload), else a new one.
  let session = await resumable(input, digests);
  const resumed = session !== null;
  if (!session) {
    const existing = await api.GET('/api/v1/boot/{machine_id}/profile', { params: { path: { machine_id: input.machineId } } });
    const mode = input.machineId === 'default' ? (await api.GET('/api/v1/boot/default/profile')).response.ok : existing.response.ok;
    session = must(
      await api.POST('/api/v1/uploads', {
        body: {
          machine_id: input.machineId,
          mode: mode ? 'replace' : 'create',
          kernel_args: input.kernelArgs,
          ...(input.userData ? { user_data: input.userData } : {}),
          ...(input.vendorData ? { vendor_data: input.vendorData } : {}),
          ...digests,
        } as never,
      }),
    );
    const saved: SavedSession = { sessionId: session.id, machineId: input.machineId, digests, kernelArgs: input.kernelArgs };
    sessionStorage.setItem(savedKey, JSON.stringify(saved));
  }

  // 3. What the service lacks, straight to Storage.
  const sent: Record<string, number> = {};
  const files = session.files as Record<string, UploadSession['files']['kernel'] | undefined>;
  for (const name of names) {
    const target = files[name]?.upload;
    const file = input.files[name] as File;
    sent[name] = 0;
    if (!target) {
      progress(name, 'held', file.size);
      continue;
    }
    // This page opens its sessions with transfer "resumable" (the default): one session URI per file.
    if (!('url' in target)) throw new Error(`the service answered ${name} in parts, which this page does not send`);
    const from = await storedBytes(target.url, file.size);
    const meter = new Meter(file.size, from);
    progress(name, 'uploading', from, meter, from);
    sent[name] = await sendFrom(target.url, file, from, (done) => progress(name, 'uploading', done, meter, from), signal);
    progress(name, 'done', file.size, meter, from);
  }

  // 4. Finalize: the service checks every file's digest and commits the profile.
  const finalized = await api.POST('/api/v1/uploads/{id}/finalize', { params: { path: { id: session.id } } });
  const profile = must(finalized) as BootProfile;
  forgetUpload();
  return { profile, sessionId: session.id, resumed, sent };
}

/** The saved session when it is still open and was opened for these very files and arguments. */
async function resumable(input: ProfileInput, digests: SavedSession['digests']): Promise<UploadSession | null> {
  const saved = savedUpload();
  if (!saved || saved.machineId !== input.machineId || JSON.stringify(saved.kernelArgs) !== JSON.stringify(input.kernelArgs)) return null;
  const same = Object.keys(digests).length === Object.keys(saved.digests).length && Object.entries(digests).every(([n, d]) => saved.digests[n]?.sha256 === d.sha256);
  if (!same) return null;
  const got = await api.GET('/api/v1/uploads/{id}', { params: { path: { id: saved.sessionId } } });
  if (!got.response.ok || got.data?.state !== 'open') {
    forgetUpload();
    return null;
  }
  return got.data;
}

/** How many bytes Storage holds of this session (a status query: empty PUT, `Content-Range: bytes *\/total`). */
async function storedBytes(url: string, total: number): Promise<number> {
  const res = await fetch(url, { method: 'PUT', headers: { 'Content-Range': `bytes */${total}` } });
  if (res.status === 200 || res.status === 201) return total;
  if (res.status !== 308) throw storageProblem(res.status, await res.text());
  const range = /bytes=0-(\d+)/.exec(res.headers.get('Range') ?? '');
  return range ? Number(range[1]) + 1 : 0;
}

/** The file from `from` on, in chunks; each through XMLHttpRequest for its upload progress. Returns the bytes sent. */
async function sendFrom(url: string, file: File, from: number, onProgress: (done: number) => void, signal?: AbortSignal): Promise<number> {
  let offset = from;
  let sent = 0;
  while (offset < file.size) {
    const end = Math.min(offset + chunkBytes, file.size);
    const last = end === file.size;
    const status = await putChunk(url, file.slice(offset, end), `bytes ${offset}-${end - 1}/${last ? file.size : '*'}`, (loaded) => onProgress(offset + loaded), signal);
    sent += end - offset;
    if (last ? status !== 200 && status !== 201 : status !== 308) {
      // Storage kept less than sent (or answered oddly): ask where it stands and go on from there.
      const at = await storedBytes(url, file.size);
      if (at <= offset) throw storageProblem(status, 'Storage did not keep the chunk');
      offset = at;
      continue;
    }
    offset = end;
    onProgress(offset);
  }
  return sent;
}

function putChunk(url: string, body: Blob, contentRange: string, onLoaded: (bytes: number) => void, signal?: AbortSignal): Promise<number> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('PUT', url);
    xhr.setRequestHeader('Content-Range', contentRange);
    xhr.upload.onprogress = (e) => onLoaded(e.loaded);
    xhr.onload = () => (xhr.status >= 500 || xhr.status === 0 ? reject(storageProblem(xhr.status, xhr.responseText)) : resolve(xhr.status));
    xhr.onerror = () => reject(new ApiProblem(0, 'Upload interrupted', 'The connection to Storage was lost: upload again (or reload) to resume from what Storage kept', 'about:blank'));
    signal?.addEventListener('abort', () => xhr.abort());
    xhr.send(body);
  });
}

function storageProblem(status: number, text: string): ApiProblem {
  return new ApiProblem(status, 'Storage refused the upload', text.slice(0, 300) || `Storage answered ${status}`, 'about:blank');
}

export { problemOf };
