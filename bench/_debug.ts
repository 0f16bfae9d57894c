import { randomBytes } from 'node:crypto';
import { startEmbeddedEmulators } from '../emulators/embedded';
import { resetConfig } from '../shared/config';
import { getBucket } from '../shared/clients';
import { writeBlob } from './fixtures';
async function main() {
  const e = await startEmbeddedEmulators({ firestorePort: 0, storagePort: 0 });
  Object.assign(process.env, { FIRESTORE_EMULATOR_HOST: e.firestoreHost, STORAGE_EMULATOR_HOST: e.storageHost, METADATA_SERVER_DETECTION: 'none', BLOB_BUCKET: 'dbg-blobs', GOOGLE_CLOUD_PROJECT: 'dbg' });
  resetConfig();
  await getBucket().getFiles({ maxResults: 1 });
  for (const size of [1024, 9 * 1024 * 1024, 20 * 1024 * 1024]) {
    const t = performance.now();
    const ref = await writeBlob(randomBytes(size));
    const [d] = await getBucket().file('blobs/' + ref.id).download(); const { createHash } = await import('node:crypto'); process.stderr.write(createHash('sha256').update(d).digest('hex') + ' ' + d.length + '\n'); process.stderr.write(`${size} ok ${performance.now() - t} ${JSON.stringify(ref)}\n`);
  }
  await e.stop();
  process.exit(0);
}
main().catch((e) => { process.stderr.write(String(e) + '\n'); process.exit(1); });
