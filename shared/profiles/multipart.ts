import { createHash } from 'node:crypto';
import { once } from 'node:events';
import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import busboy from 'busboy';
import { parseUuidV7, newId } from '../domain/ids';
import { extraArchitectures, fileName, kernelArgsSchema, parseFileName, type ArchitectureImages, type AssetKind, type BlobRef, type FileName } from '../domain/profile';
import { invalidFieldsOf } from '../http/validate';
import { ProblemError, validationError, type InvalidField } from '../http/problem';
import type { Logger } from '../logging';
import type { BlobStore } from '../storage/blobs';
import { parseUserData, userDataMaxBytes, type UserData } from '../fleet/user-data';

export interface UploadLimits {
  kernel: number;
  initrd: number;
}

export interface ReceivedProfile {
  machineId: string;
  kernelArgs: string[];
  /** The optional `user_data` part (cloud-init), validated. */
  userData?: UserData;
  /** The optional `vendor_data` part (cloud-init vendor-data), validated like user_data. */
  vendorData?: UserData;
  kernel: BlobRef;
  initrd: BlobRef;
  /** `kernel.<arch>` + `initrd.<arch>` pairs; absent when there are none. */
  architectures?: ArchitectureImages;
  /** Every blob this request wrote: what to delete if a later step fails. */
  written: string[];
}

export interface ReceiveOptions {
  headers: IncomingHttpHeaders;
  /** The body functions-framework already holds; busboy reads it in place. */
  body: Buffer;
  /** The machine from the path (update); when absent, `machine_id` is a required form field (create). */
  machineId?: string;
  store: BlobStore;
  limits: UploadLimits;
  /** Runs as soon as the machine is known; a rejection stops uploads that have not begun. */
  precheck: (machineId: string) => Promise<void>;
  log: Logger;
}

/** Text parts (beside the files); `user_data`, `vendor_data` and `kernel_args` may come as file parts too. */
const textFields = ['kernel_args', 'user_data', 'vendor_data'] as const;

/**
 * The form has at most 17 parts (machine_id, kernel_args, user_data, vendor_data, kernel and
 * initrd, and a pair per extra architecture); the limits leave room to name an unknown or
 * repeated part in the answer, and stop a body of thousands of parts early.
 */
const formLimits = { fields: 12, files: 20, parts: 24, fieldSize: 64 * 1024, fieldNameSize: 64, headerPairs: 16 };

/**
 * Streams the kernel and initrd parts of a profile upload into new blobs, hashing and
 * counting as they go, and validates the other fields. On any failure every blob it
 * wrote is deleted before the error is thrown: the caller sees either a complete
 * upload or nothing.
 */
export async function receiveProfile(opts: ReceiveOptions): Promise<ReceivedProfile> {
  const written: string[] = [];
  try {
    return await parse(opts, written);
  } catch (err) {
    await discardBlobs(opts.store, written, opts.log);
    throw err;
  }
}

async function discardBlobs(store: BlobStore, ids: readonly string[], log: Logger): Promise<void> {
  const results = await Promise.allSettled(ids.map((id) => store.delete(id)));
  results.forEach((r, i) => {
    // Left for the sweeper: unreferenced blobs past the grace period are deleted.
    if (r.status === 'rejected') log.error('could not delete blob; the sweeper will', { blob_id: ids[i], err: String(r.reason) });
  });
}

async function parse(opts: ReceiveOptions, written: string[]): Promise<ReceivedProfile> {
  const contentType = opts.headers['content-type'] ?? '';
  if (!/^multipart\/form-data\s*;/i.test(contentType)) {
    throw new ProblemError('unsupported-media-type', 'The request body must be multipart/form-data');
  }
  let bb: busboy.Busboy;
  try {
    bb = busboy({ headers: opts.headers, limits: formLimits, defParamCharset: 'utf8' });
  } catch {
    throw validationError([{ field: '(body)', reason: 'multipart boundary is missing' }], 'The request body is not valid multipart/form-data');
  }

  const allowed = new Set<string>([...(opts.machineId ? [] : ['machine_id']), ...textFields]);
  const isFile = (name: string) => { const f = parseFileName(name); return f !== null && !('reason' in f); };
  const cloudInit: { user_data?: Buffer; vendor_data?: Buffer } = {};
  const invalid: InvalidField[] = [];
  const seen = new Set<string>();
  const fields = new Map<string, string>();
  const blobs: Partial<Record<FileName, BlobRef>> = {};
  const pending: Promise<void>[] = [];
  let precheck: Promise<unknown> | undefined = opts.machineId ? opts.precheck(opts.machineId) : undefined;
  precheck?.catch(() => undefined);
  let tooLarge: ProblemError | undefined;
  let storageFailure: unknown;
  let malformed = false;

  const claim = (name: string): boolean => {
    const file = parseFileName(name);
    if (file && 'reason' in file) invalid.push({ field: name.slice(0, 64), reason: file.reason });
    else if (!allowed.has(name) && !file) invalid.push({ field: name || '(unnamed part)', reason: 'unknown field' });
    else if (seen.has(name)) invalid.push({ field: name, reason: 'field given more than once' });
    else {
      seen.add(name);
      return true;
    }
    return false;
  };

  const store = async (name: FileName, kind: AssetKind, stream: Readable): Promise<void> => {
    // Do not write what is about to be refused (unknown machine, existing profile).
    if (precheck && (await precheck.then(() => false, () => true))) return void stream.resume();
    const id = newId();
    const limit = opts.limits[kind];
    let upload: ReturnType<BlobStore['openWrite']>;
    try {
      upload = opts.store.openWrite(id);
    } catch (err) {
      // Thrown on, this part's promise would reject while the other part is still
      // uploading: cleanup would run too early and leave that blob behind.
      storageFailure ??= err;
      return void stream.resume();
    }
    const { sink, done } = upload;
    written.push(id);
    const hash = createHash('sha256');
    let size = 0;
    try {
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        size += chunk.length;
        if (size > limit) {
          if (!sink.destroyed) sink.destroy();
          continue; // keep counting: the answer reports the real size
        }
        hash.update(chunk);
        if (!sink.write(chunk)) await once(sink, 'drain');
      }
    } catch (err) {
      sink.destroy();
      if (isStreamTruncation(err)) malformed = true;
      else storageFailure ??= err;
      return;
    }
    if (size > limit) {
      tooLarge ??= fileTooLarge(name, kind, size, limit);
      await done.catch(() => undefined);
      return;
    }
    if (size === 0) {
      invalid.push({ field: name, reason: 'file is empty' });
      sink.destroy();
      await done.catch(() => undefined);
      return;
    }
    sink.end();
    try {
      await done;
    } catch (err) {
      storageFailure ??= err;
      return;
    }
    blobs[name] = { id, sha256: hash.digest('hex'), size };
  };

  bb.on('field', (name, value, info) => {
    if (!claim(name)) return;
    if (isFile(name)) return void invalid.push({ field: name, reason: 'must be a file' });
    if (info.valueTruncated) return void (name === 'user_data' || name === 'vendor_data' ? (cloudInit[name] = Buffer.alloc(userDataMaxBytes + 1)) : invalid.push({ field: name, reason: `value is longer than ${formLimits.fieldSize} bytes` }));
    if (name === 'user_data' || name === 'vendor_data') cloudInit[name] = Buffer.from(value, 'utf8');
    fields.set(name, value);
    if (name === 'machine_id') {
      const id = parseUuidV7(value.trim());
      if (!id) return void invalid.push({ field: 'machine_id', reason: 'must be a UUIDv7' });
      fields.set(name, id);
      precheck = opts.precheck(id);
      precheck.catch(() => undefined);
    }
  });
  bb.on('file', (name, stream) => {
    // A part cut short errors its stream as well as the form (which marks the body malformed).
    // Listen before anything awaits: an unheard 'error' escapes the request as a crash (500).
    stream.on('error', () => undefined);
    // `curl -F kernel_args=@args.json` sends the JSON as a file part: read it as the field.
    // `curl -F user_data=@user-data.yaml`: the bytes as sent (one more than the cap is enough to refuse it).
    if (name === 'user_data' || name === 'vendor_data') {
      if (claim(name)) pending.push(readPartBytes(stream, userDataMaxBytes + 1).then((bytes) => void (cloudInit[name] = bytes), () => void (malformed = true)));
      else stream.resume();
      return;
    }
    if (name === 'kernel_args') {
      if (claim(name)) pending.push(readSmallPart(stream, formLimits.fieldSize).then(
        (text) => void (text === null ? invalid.push({ field: name, reason: `value is longer than ${formLimits.fieldSize} bytes` }) : fields.set(name, text)),
        () => void (malformed = true),
      ));
      else stream.resume();
      return;
    }
    if (allowed.has(name)) {
      invalid.push({ field: name, reason: 'must be a text field, not a file' });
      seen.add(name);
      return void stream.resume();
    }
    if (!claim(name)) return void stream.resume();
    const file = parseFileName(name) as { kind: AssetKind };
    pending.push(store(name as FileName, file.kind, stream));
  });
  for (const limit of ['partsLimit', 'filesLimit', 'fieldsLimit'] as const) {
    bb.on(limit, () => invalid.push({ field: '(body)', reason: `too many parts (at most ${formLimits.parts})` }));
  }
  const closed = new Promise<void>((resolve) => {
    bb.once('close', resolve);
    bb.once('error', () => {
      malformed = true;
      resolve();
    });
  });
  bb.end(opts.body);
  await closed;
  await Promise.all(pending);

  if (malformed) throw validationError([{ field: '(body)', reason: 'multipart body is malformed or truncated' }], 'The request body is not valid multipart/form-data');
  for (const name of [...(opts.machineId ? [] : ['machine_id']), 'kernel', 'initrd']) {
    if (!seen.has(name)) invalid.push({ field: name, reason: 'required field is missing' });
  }
  // An architecture's images are a pair: its kernel and its initrd.
  for (const arch of extraArchitectures) {
    const [k, i] = [fileName('kernel', arch), fileName('initrd', arch)];
    if (seen.has(k) !== seen.has(i)) invalid.push({ field: seen.has(k) ? i : k, reason: `required field is missing: ${arch} needs both ${k} and ${i}` });
  }
  if (invalid.length > 0) throw validationError(invalid);
  const machineId = opts.machineId ?? (fields.get('machine_id') as string);
  await precheck;
  if (tooLarge) throw tooLarge;
  const kernelArgs = parseKernelArgs(fields.get('kernel_args'));
  const userData = cloudInit.user_data === undefined ? undefined : parseUserData(cloudInit.user_data);
  const vendorData = cloudInit.vendor_data === undefined ? undefined : parseUserData(cloudInit.vendor_data, 'vendor_data');
  const expected = [...seen].filter(isFile) as FileName[];
  if (storageFailure || expected.some((name) => !blobs[name]) || !blobs.kernel || !blobs.initrd) {
    opts.log.error('blob upload failed', { err: String(storageFailure) });
    throw new ProblemError('storage-error', 'Failed to store the uploaded files due to an internal error');
  }
  const archEntries = extraArchitectures.flatMap((arch) => {
    const kernel = blobs[fileName('kernel', arch)];
    const initrd = blobs[fileName('initrd', arch)];
    return kernel && initrd ? [[arch, { kernel, initrd }] as const] : [];
  });
  return {
    machineId,
    kernelArgs,
    ...(userData ? { userData } : {}),
    ...(vendorData ? { vendorData } : {}),
    kernel: blobs.kernel,
    initrd: blobs.initrd,
    ...(archEntries.length ? { architectures: Object.fromEntries(archEntries) as ArchitectureImages } : {}),
    written,
  };
}

/** A part's bytes, at most `max` of them (the caller refuses a part that reaches `max`). */
async function readPartBytes(stream: Readable, max: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    if (size < max) chunks.push(chunk.subarray(0, max - size));
    size += chunk.length;
  }
  return Buffer.concat(chunks);
}

/** A part's text, or null when it is longer than `max` bytes. */
async function readSmallPart(stream: Readable, max: number): Promise<string | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size <= max) chunks.push(chunk);
  }
  return size <= max ? Buffer.concat(chunks).toString('utf8') : null;
}

/** `field` names the part (`kernel`, `initrd.arm64`, ...); the limit is its kind's. */
export function fileTooLarge(field: FileName, kind: AssetKind, size: number, max: number): ProblemError {
  const what = field === kind ? (kind === 'kernel' ? 'Kernel' : 'Initrd') : `${kind === 'kernel' ? 'Kernel' : 'Initrd'} (${field.slice(kind.length + 1)})`;
  return new ProblemError('file-too-large', `${what} file exceeds maximum allowed size of ${formatMiB(max)}`, { field, file_size: size, max_size: max });
}

function formatMiB(bytes: number): string {
  const mib = bytes / (1024 * 1024);
  return Number.isInteger(mib) ? `${mib}MB` : `${bytes} bytes`;
}

function isStreamTruncation(err: unknown): boolean {
  return err instanceof Error && /unexpected end of (form|file)|truncated/i.test(err.message);
}

/** Absent means no arguments; otherwise a JSON array of safe strings, or 422. */
function parseKernelArgs(raw: string | undefined): string[] {
  if (raw === undefined) return [];
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    throw new ProblemError('invalid-kernel-args', 'kernel_args is not valid JSON', { field: 'kernel_args' });
  }
  const parsed = kernelArgsSchema.safeParse(value);
  if (!parsed.success) {
    const invalid = invalidFieldsOf(parsed.error, value).map((f) => ({ field: f.field === '(body)' ? 'kernel_args' : `kernel_args${f.field}`, reason: f.reason }));
    throw new ProblemError('invalid-kernel-args', 'kernel_args must be a JSON array of safe strings', { field: 'kernel_args', invalid_fields: invalid });
  }
  return parsed.data;
}
