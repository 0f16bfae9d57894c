// Test data the benchmarks need: machines made through the API, big blobs written
// straight into the bucket, profiles made through the repository layer.
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import { getBucket, getFirestore } from '../shared/clients';
import { newId } from '../shared/domain/ids';
import type { BlobRef, BootProfile } from '../shared/domain/profile';
import { FirestoreProfileRepository } from '../shared/repositories/firestore-profiles';
import { blobObjectName } from '../shared/storage/blobs';
import { aMac, aMachine } from '../test/helpers/fixtures';

export const MiB = 1024 * 1024;

export async function createMachine(baseUrl: string): Promise<{ id: string; mac: string }> {
  const mac = aMac();
  const res = await fetch(`${baseUrl}/api/v1/machines`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(aMachine({ nics: [{ mac }] })),
  });
  const body = (await res.json()) as { id?: string };
  if (res.status !== 201 || !body.id) throw new Error(`POST /api/v1/machines: ${res.status} ${JSON.stringify(body)}`);
  return { id: body.id, mac };
}

/**
 * Writes `data` to `blobs/{new id}` with a resumable upload in 8 MiB chunks: the Storage
 * emulator refuses single requests above 130 MB. Returns the blob reference.
 */
export async function writeBlob(data: Buffer): Promise<BlobRef> {
  const id = newId();
  const sink = getBucket().file(blobObjectName(id)).createWriteStream({
    resumable: true,
    chunkSize: 8 * MiB,
    contentType: 'application/octet-stream',
    // The emulator's stored CRC32C of a multi-chunk upload does not match the client's
    // ("The uploaded data did not match"); the bench checks the bytes by SHA-256 instead.
    validation: false,
  });
  const done = finished(sink);
  done.catch(() => undefined);
  for (let offset = 0; offset < data.length && !sink.destroyed; offset += 8 * MiB) {
    if (!sink.write(data.subarray(offset, offset + 8 * MiB))) await Promise.race([once(sink, 'drain'), done]);
  }
  sink.end();
  await done;
  return { id, sha256: createHash('sha256').update(data).digest('hex'), size: data.length };
}

/** A profile whose initrd is `initrdBytes` of random data (kernel 1 MiB). */
export async function createProfileWithBigInitrd(machineId: string, initrdBytes: number): Promise<{ profile: BootProfile; initrdSha256: string; uploadMs: number }> {
  const started = performance.now();
  const kernel = await writeBlob(randomBytes(MiB));
  const initrd = await writeBlob(randomBytes(initrdBytes));
  const uploadMs = performance.now() - started;
  const profile = await new FirestoreProfileRepository(getFirestore()).create(machineId, { kernel: { ...kernel, args: ['console=ttyS0', 'ip=dhcp'] }, initrd });
  return { profile, initrdSha256: initrd.sha256, uploadMs };
}
