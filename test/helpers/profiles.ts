import { createHash, randomBytes } from 'node:crypto';
import { expect } from 'vitest';
import { aMachine } from './fixtures';
import { currentRoot, request, type ApiResponse } from './stack';

export interface ProfileBody {
  id: string;
  machine_id: string;
  kernel: { id: string; args: string[]; sha256: string; size: number };
  initrd: { id: string; sha256: string; size: number };
}

export const sha256 = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex');

export function randomFile(bytes: number): Buffer {
  return randomBytes(bytes);
}

/** A Blob of these bytes (copied into a plain ArrayBuffer, which Blob's typing requires). */
const blobOf = (bytes: Uint8Array, type = 'application/octet-stream'): Blob => new Blob([new Uint8Array(bytes)], { type });

/** A multipart body as a browser or curl -F would send it. */
export function profileForm(parts: { machine_id?: string; kernel?: Uint8Array; initrd?: Uint8Array; kernel_args?: string; extra?: [string, string | Uint8Array][] }): FormData {
  const form = new FormData();
  if (parts.machine_id !== undefined) form.append('machine_id', parts.machine_id);
  if (parts.kernel) form.append('kernel', blobOf(parts.kernel), 'vmlinuz');
  if (parts.initrd) form.append('initrd', blobOf(parts.initrd), 'initrd.img');
  if (parts.kernel_args !== undefined) form.append('kernel_args', parts.kernel_args);
  for (const [name, value] of parts.extra ?? []) {
    if (typeof value === 'string') form.append(name, value);
    else form.append(name, blobOf(value), name);
  }
  return form;
}

export async function createMachineId(base: string): Promise<string> {
  const res = await request<{ id: string }>(base, 'POST', '/api/v1/machines', { json: aMachine() });
  expect(res.status).toBe(201);
  return res.body.id;
}

export function postProfile(base: string, form: FormData): Promise<ApiResponse<ProfileBody & Record<string, unknown>>> {
  return request(base, 'POST', '/api/v1/profiles', { body: form });
}

/** Blob ids in the bucket right now, sorted. */
export async function storedBlobIds(): Promise<string[]> {
  const [files] = await currentRoot().clients.bucket.getFiles({ prefix: 'blobs/' });
  return files.map((f) => f.name.slice('blobs/'.length)).sort();
}

export async function storedBlob(id: string): Promise<Buffer> {
  const [data] = await currentRoot().clients.bucket.file(`blobs/${id}`).download();
  return data;
}
