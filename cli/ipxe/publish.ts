// `netboot ipxe publish OUT`: a build's binaries to the service (admin API upload session,
// content-addressed), after checking each file against OUT/manifest.json. GET /ipxe/{file}
// then serves them (UEFI HTTP Boot).
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { ApiClient } from '../api';
import { hashFile } from '../hash';
import { uploadResumable } from '../resumable';
import { ipxeFiles, type IpxeBinary, type IpxeFile, type IpxeUploadSessionView } from '../../shared/ipxe/files';

/** A build directory that cannot be published as it is (the CLI's usage error). */
export class PublishInputError extends Error {}

export interface ManifestEntry {
  name: IpxeFile;
  size: number;
  sha256: string;
}

/** The publishable files manifest.json lists (`files: [{ name, size, sha256 }]`, as netboot ipxe build writes it). */
export async function readManifest(dir: string): Promise<ManifestEntry[]> {
  const path = join(dir, 'manifest.json');
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new PublishInputError(`cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)} (publish the --out directory of npx netboot ipxe build)`);
  }
  let files: unknown;
  try {
    files = (JSON.parse(text) as { files?: unknown }).files;
  } catch (e) {
    throw new PublishInputError(`${path}: ${(e as Error).message}`);
  }
  if (!Array.isArray(files)) throw new PublishInputError(`${path} has no files list`);
  const entries: ManifestEntry[] = [];
  for (const f of files as Record<string, unknown>[]) {
    const name = f?.name;
    if (typeof name !== 'string' || !(ipxeFiles as readonly string[]).includes(name)) continue; // not a binary the service serves
    if (!Number.isSafeInteger(f.size) || typeof f.sha256 !== 'string' || !/^[0-9a-f]{64}$/i.test(f.sha256)) throw new PublishInputError(`${path}: ${name} needs a size and a sha256`);
    entries.push({ name: name as IpxeFile, size: f.size as number, sha256: f.sha256.toLowerCase() });
  }
  if (entries.length === 0) throw new PublishInputError(`${path} lists none of ${ipxeFiles.join(', ')}`);
  return entries;
}

export interface PublishedFile extends IpxeBinary {
  /** Sent by this run; false: the service already held the content. */
  uploaded: boolean;
}

/** Checks every file against the manifest, opens a session, sends what the service lacks, finalizes. */
export async function publishBuild(api: ApiClient, dir: string, log: (line: string) => void): Promise<PublishedFile[]> {
  const root = resolve(dir);
  const entries = await readManifest(root);
  for (const e of entries) {
    const path = join(root, e.name);
    const actual = await hashFile(path).catch((err: NodeJS.ErrnoException) => {
      throw new PublishInputError(`cannot read ${path}: ${err.code ?? err.message}`);
    });
    if (actual.size !== e.size || actual.sha256 !== e.sha256) {
      throw new PublishInputError(`${path} is not the file manifest.json describes (manifest: ${e.size} bytes sha256 ${e.sha256}; file: ${actual.size} bytes sha256 ${actual.sha256}); rebuild, or publish an untouched build directory`);
    }
  }
  const files = Object.fromEntries(entries.map((e) => [e.name, { size: e.size, sha256: e.sha256 }]));
  const session = (await api.request<IpxeUploadSessionView>('POST', '/api/v1/ipxe/uploads', { json: { files } })).body;
  const uploaded = new Set<string>();
  for (const e of entries) {
    const upload = session.files[e.name]?.upload;
    if (!upload) {
      log(`${e.name}: the service already holds it (${e.size} bytes), nothing to send`);
      continue;
    }
    // Two names with the same bytes share one upload URL: send it once.
    if (![...uploaded].some((name) => session.files[name as IpxeFile]?.upload?.url === upload.url)) {
      const r = await uploadResumable({ uri: upload.url, path: join(root, e.name), total: e.size });
      log(`${e.name}: sent ${r.sent} bytes`);
    }
    uploaded.add(e.name);
  }
  const fin = await api.request<{ binaries: IpxeBinary[] }>('POST', `/api/v1/ipxe/uploads/${encodeURIComponent(session.id)}/finalize`, { idempotent: true });
  return fin.body.binaries.map((b) => ({ ...b, uploaded: uploaded.has(b.file) }));
}
