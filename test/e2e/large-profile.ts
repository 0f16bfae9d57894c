// A boot profile whose blobs are written straight into the bucket: an initrd over 32 MiB
// cannot arrive in one multipart request (the platform's 32 MiB request cap, enforced by
// the local gateway too), so tests of large assets put the bytes where an upload would
// have, and register the profile through the inventory.
import { createHash } from 'node:crypto';
import { newId } from '../../shared/domain/ids';
import type { BlobRef, BootProfile } from '../../shared/domain/profile';
import type { Root } from '../../shared/root';
import { blobObjectName } from '../../shared/storage/blobs';

export async function putBlob(root: Root, data: Buffer): Promise<BlobRef> {
  const id = newId();
  await root.clients.bucket.file(blobObjectName(id)).save(data, { resumable: false, contentType: 'application/octet-stream' });
  return { id, sha256: createHash('sha256').update(data).digest('hex'), size: data.length };
}

export async function createProfileWithBlobs(root: Root, machineId: string, kernel: Buffer, initrd: Buffer, args: string[]): Promise<BootProfile> {
  const [k, i] = await Promise.all([putBlob(root, kernel), putBlob(root, initrd)]);
  return root.inventory.createProfile({ id: newId(), machine_id: machineId, kernel: { ...k, args }, initrd: i });
}
