// The service's lean whole-object reads (shared/storage/gcs-media.ts), against the Storage
// emulator for what it answers, and against a plain HTTP server for what it cannot be made to
// answer (a 503, a request's credentials).
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { Storage, type StorageOptions } from '@google-cloud/storage';
import * as authLibrary10 from 'google-auth-library';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useStorageEmulator } from '../emulators/storage/test-fixture';
import { GcsMediaReader, MediaReadError } from '../shared/storage/gcs-media';

const MiB = 1024 * 1024;
const fx = useStorageEmulator();
const bucketName = 'demo-netboot-media';

describe('GcsMediaReader against the Storage emulator', () => {
  let reader: GcsMediaReader;
  beforeAll(() => {
    reader = new GcsMediaReader(fx.storage.bucket(bucketName));
  });
  afterAll(() => reader.close());

  it('reads a whole object piece by piece: every byte, in order, and its length', async () => {
    const bytes = randomBytes(5 * MiB + 123);
    await fx.storage.bucket(bucketName).file('blobs/some part').save(bytes, { resumable: false });
    const pieces: Buffer[] = [];
    const length = await reader.readWhole('blobs/some part', (piece) => pieces.push(Buffer.from(piece)));
    expect(length).toBe(bytes.length);
    expect(pieces.length).toBeGreaterThan(1); // handed on as they arrive, not gathered
    expect(createHash('sha256').update(Buffer.concat(pieces)).digest('hex')).toBe(createHash('sha256').update(bytes).digest('hex'));
  });

  it('an empty object is 0 bytes and no piece; an object that does not exist (yet) is null', async () => {
    await fx.storage.bucket(bucketName).file('blobs/empty').save(Buffer.alloc(0), { resumable: false });
    const pieces: Buffer[] = [];
    expect(await reader.readWhole('blobs/empty', (piece) => pieces.push(piece))).toBe(0);
    expect(await reader.readWhole('blobs/not there', (piece) => pieces.push(piece))).toBeNull();
    expect(pieces).toEqual([]);
  });
});

describe('GcsMediaReader against a server that answers what the emulator cannot', () => {
  const seen: http.IncomingHttpHeaders[] = [];
  let status = 200;
  const server = http.createServer((req, res) => {
    seen.push(req.headers);
    res.writeHead(status, { 'content-type': 'text/plain' }).end(status === 200 ? 'part bytes' : 'backend unavailable, try again');
  });
  let endpoint = '';
  beforeAll(async () => {
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((ok) => server.close(() => ok())));

  it('another status than 200 or 404 rejects with it as the error code and the answer in the message', async () => {
    status = 503;
    const reader = new GcsMediaReader(new Storage({ projectId: 'demo-netboot', apiEndpoint: endpoint }).bucket('b'));
    try {
      const failed = reader.readWhole('blobs/p', () => undefined);
      await expect(failed).rejects.toBeInstanceOf(MediaReadError);
      await expect(failed).rejects.toMatchObject({ code: 503, message: expect.stringContaining('backend unavailable') as unknown });
      expect(seen.at(-1)?.authorization).toBeUndefined(); // a custom endpoint: no credentials, as the Storage client does
    } finally {
      await reader.close();
    }
  });

  // The Storage client's own google-auth-library (9) answers headers as a plain object; one of
  // google-auth-library 10 (the project's) as a fetch Headers. Both must reach the request.
  // The copy the Storage client resolves, found as Node finds it from there (not by a path written here).
  const fromStorage = createRequire(require.resolve('@google-cloud/storage'));
  const storageAuthLibrary = fromStorage('google-auth-library') as typeof authLibrary10;
  it.each([
    ['the Storage client’s google-auth-library', storageAuthLibrary],
    ['google-auth-library 10', authLibrary10],
  ])('sends the Storage client’s credentials where it would (%s)', async (_, { OAuth2Client }) => {
    status = 200;
    const authClient = new OAuth2Client();
    authClient.setCredentials({ access_token: 'test-access-token', expiry_date: Date.now() + 3_600_000 });
    const storage = new Storage({ projectId: 'demo-netboot', apiEndpoint: endpoint, useAuthWithCustomEndpoint: true, authClient: authClient as unknown as StorageOptions['authClient'] }); // typed for version 9, takes either at run time
    const reader = new GcsMediaReader(storage.bucket('b'));
    try {
      expect(await reader.readWhole('blobs/with a space', () => undefined)).toBe('part bytes'.length);
      expect(seen.at(-1)?.authorization).toBe('Bearer test-access-token');
    } finally {
      await reader.close();
    }
  });
});
