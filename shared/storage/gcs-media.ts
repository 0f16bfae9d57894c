import type { Bucket } from '@google-cloud/storage';
import { Agent, request } from 'undici';

/** A Cloud Storage answer other than 200 to a media download; `code` is its HTTP status, as the Storage client's errors carry it. */
export class MediaReadError extends Error {
  constructor(
    readonly code: number,
    objectName: string,
    detail: string,
  ) {
    super(`Cloud Storage answered ${code} to reading ${objectName}: ${detail}`);
  }
}

/**
 * Whole objects read with the JSON API's media download (`GET /storage/v1/b/{bucket}/o/{object}
 * ?alt=media`, the request the Storage client makes for a read stream) through undici, with the
 * client's own endpoint and credentials. The Storage client's read stream hands every 64 KiB
 * piece through a chain of streams, each piece copied once more by node:http's parser; for the
 * service's own reads of whole parts that machinery cost several times the SHA-256 it fed
 * (docs/uploads.md, "The service reads what it hashes with undici"). undici hands each socket
 * read on as a view, one keep-alive pool per process. No retry here: verify is asked again by its
 * caller, and a failed finalize is retried whole (it is idempotent).
 */
export class GcsMediaReader {
  private readonly dispatcher = new Agent({ keepAliveTimeout: 30_000 });

  constructor(private readonly bucket: Bucket) {}

  /** The object's length, each piece given to `onPiece` as it arrives; null when Storage has no such object (404). */
  async readWhole(objectName: string, onPiece: (piece: Buffer) => void): Promise<number | null> {
    const storage = this.bucket.storage;
    const url = `${storage.apiEndpoint}/storage/v1/b/${encodeURIComponent(this.bucket.name)}/o/${encodeURIComponent(objectName)}?alt=media`;
    // As the client itself does: a custom endpoint (the emulator) gets no credentials unless asked to.
    const authorized = !storage.customEndpoint || storage.useAuthWithCustomEndpoint;
    const headers = authorized ? headersOf(await storage.authClient.getRequestHeaders(url)) : {};
    const { statusCode, body } = await request(url, { headers, dispatcher: this.dispatcher });
    if (statusCode === 404) {
      await body.dump();
      return null;
    }
    if (statusCode !== 200) throw new MediaReadError(statusCode, objectName, (await body.text()).slice(0, 500));
    let bytes = 0;
    await new Promise<void>((resolve, reject) => {
      body.on('data', (piece: Buffer) => {
        bytes += piece.length;
        onPiece(piece);
      });
      body.once('end', resolve);
      body.once('error', reject);
    });
    return bytes;
  }

  close(): Promise<void> {
    return this.dispatcher.close();
  }
}

/**
 * The Storage client's google-auth-library (9) answers a plain object; a client it was given from
 * google-auth-library 10 answers a fetch `Headers` (its spread would be empty: no credentials).
 */
function headersOf(given: Record<string, string> | Headers): Record<string, string> {
  if (!(given instanceof Headers)) return { ...given };
  const headers: Record<string, string> = {};
  given.forEach((value, name) => (headers[name] = value));
  return headers;
}
