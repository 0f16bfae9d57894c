// Test data the benchmarks need: machines made through the API, big blobs written
// straight into the bucket, profiles made through the inventory.
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import type { Clients } from '../shared/clients';
import { newId } from '../shared/domain/ids';
import { machineSpecSchema } from '../shared/domain/machine';
import type { BlobRef, BootProfile } from '../shared/domain/profile';
import { FirestoreInventory } from '../shared/inventory/firestore-inventory';
import { blobObjectName } from '../shared/storage/blobs';
import { aMac, aMachine } from '../test/helpers/fixtures';
import { mintLocalToken } from '../emulators/local-issuer';

export const MiB = 1024 * 1024;

let token: string | undefined;

/** Admin routes need a bearer ID token: the local issuer's, which startLocalStack trusts. */
export function adminAuthorization(): string {
  token ??= mintLocalToken();
  return `Bearer ${token}`;
}

export async function createMachine(baseUrl: string): Promise<{ id: string; mac: string }> {
  const mac = aMac();
  const res = await fetch(`${baseUrl}/api/v1/machines`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: adminAuthorization() },
    body: JSON.stringify(aMachine({ nics: [{ mac }] })),
  });
  const body = (await res.json()) as { id?: string };
  if (res.status !== 201 || !body.id) throw new Error(`POST /api/v1/machines: ${res.status} ${JSON.stringify(body)}`);
  return { id: body.id, mac };
}

/**
 * Writes `data` to `blobs/{new id}` with a resumable upload session, streamed as ONE PUT.
 *
 * Not in 8 MiB chunks: the Storage emulator (firebase-tools 15.34.2, GCS JSON API) finalizes
 * a resumable session on its first PUT, so a chunked upload keeps only the first chunk (the
 * client then fails with "The uploaded data did not match the data from the server"). Its
 * 130 MB cap is body-parser's, applied only to requests with a Content-Type; the session's
 * PUT has none, so one streamed PUT of the whole object gets through. The bytes are
 * checked afterwards by SHA-256 (a full read through the gateway), so the client-side
 * CRC32C pass is skipped.
 */
export async function writeBlob(clients: Clients, data: Buffer): Promise<BlobRef> {
  const id = newId();
  const sink = clients.bucket.file(blobObjectName(id)).createWriteStream({ resumable: true, contentType: 'application/octet-stream', validation: false });
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
export async function createProfileWithBigInitrd(clients: Clients, machineId: string, initrdBytes: number): Promise<{ profile: BootProfile; initrdSha256: string; uploadMs: number }> {
  const started = performance.now();
  const kernel = await writeBlob(clients, randomBytes(MiB));
  const initrd = await writeBlob(clients, randomBytes(initrdBytes));
  const uploadMs = performance.now() - started;
  const profile = await new FirestoreInventory(clients.firestore).createProfile({ id: newId(), machine_id: machineId, kernel: { ...kernel, args: ['console=ttyS0', 'ip=dhcp'] }, initrd });
  return { profile, initrdSha256: initrd.sha256, uploadMs };
}

/**
 * `count` machines with one MAC and a profile each (sharing `blobs`), made through the
 * inventory (the admin API's own rate limit would refuse hundreds of calls a
 * minute). A rack boots many machines once each, not one machine over and over, and the
 * boot path limits requests per MAC. Returns the MACs.
 */
export async function createBootFleet(clients: Clients, count: number, blobs: Pick<BootProfile, 'kernel' | 'initrd'>): Promise<string[]> {
  const inventory = new FirestoreInventory(clients.firestore);
  const macs: string[] = [];
  let started = 0;
  const worker = async () => {
    while (started < count) {
      started++;
      const mac = aMac();
      const machine = await inventory.createMachine(machineSpecSchema.parse(aMachine({ nics: [{ mac }] })));
      // Every profile references the same blobs: their ledger entry is contended, and the
      // client's own retries of an ABORTED transaction can run out on a busy machine.
      for (let attempt = 1; ; attempt++) {
        try {
          await inventory.createProfile({ id: newId(), machine_id: machine.id, kernel: blobs.kernel, initrd: blobs.initrd });
          break;
        } catch (err) {
          if ((err as { code?: number }).code !== 10 || attempt >= 5) throw err;
        }
      }
      macs.push(mac);
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return macs;
}
