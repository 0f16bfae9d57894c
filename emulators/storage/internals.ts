// Typed views of the firebase-tools 15.34.2 storage emulator internals this directory relies on
// (lib/emulator/storage/*). They have no type declarations and no stability promise: re-check
// every shape below when that version changes. Only files in emulators/ may import this.
/* eslint-disable @typescript-eslint/no-require-imports */

/** Constructor options of StoredFileMetadata (subset used here). */
export interface StoredFileMetadataOpts {
  name: string;
  bucket: string;
  generation?: number;
  metageneration?: number;
  contentType?: string;
  contentDisposition?: string;
  contentEncoding?: string;
  contentLanguage?: string;
  cacheControl?: string;
  customMetadata?: Record<string, unknown>;
  size: number;
  md5Hash: string;
  crc32c: string; // decimal uint32, as firebase-tools stores it
}

export interface StoredFileMetadata {
  name: string;
  bucket: string;
  generation: number;
  metageneration: number;
  size: number;
  md5Hash?: string; // absent on composite objects (set by compose, see object-store.ts)
  crc32c: string;
  etag: string;
  componentCount?: number; // composite objects only: an own field this directory adds
  storageClass: string;
  contentType?: string;
  contentDisposition?: string;
  contentEncoding?: string;
  cacheControl?: string;
}

export interface StoredFile {
  metadata: StoredFileMetadata;
}

export interface Persistence {
  readonly dirPath: string;
  _diskPathMap: Map<string, string>; // object key -> file name in dirPath
  getDiskPath(key: string): string;
  getDiskFileName(key: string): string | undefined;
  deleteFile(key: string, failSilently?: boolean): void;
  deleteAll(): Promise<void>;
}

export interface CloudFunctions {
  dispatch(action: "finalize" | "delete" | "metadataUpdate", object: unknown): Promise<void>;
}

export interface GetObjectResponse {
  metadata: StoredFileMetadata;
  data: Buffer | undefined;
}

export interface StorageLayer {
  createBucket(id: string): void;
  listBuckets(): Promise<{ id: string }[]>;
  getMetadata(bucket: string, object: string): StoredFileMetadata | undefined;
  getBytes(bucket: string, object: string, size?: number, offset?: number): Buffer | undefined;
  getObject(request: { bucketId: string; decodedObjectId: string }): Promise<GetObjectResponse>;
  path(bucket: string, object: string): string;
}

/** The instance fields of StorageEmulator used here (all set by its constructor). */
export interface StorageEmulatorInternals {
  args: { projectId: string; host?: string; port?: number };
  _files: Map<string, StoredFile>;
  _buckets: Map<string, unknown>;
  _persistence: Persistence;
  _cloudFunctions: CloudFunctions;
  _app?: unknown;
  destroyServer?: () => Promise<void>;
  storageLayer: StorageLayer;
  adminStorageLayer: StorageLayer;
}

type RequestHandler = (req: import("node:http").IncomingMessage, res: import("node:http").ServerResponse) => void;

export interface FirebaseStorageInternals {
  StoredFile: new (metadata: StoredFileMetadata) => StoredFile;
  StoredFileMetadata: {
    new (opts: StoredFileMetadataOpts, cloudFunctions: CloudFunctions): StoredFileMetadata;
    fromJSON(json: string, cloudFunctions: CloudFunctions): StoredFileMetadata;
    toJSON(metadata: StoredFileMetadata): string;
  };
  /** The JSON object resource (storage#object) of a stored file. */
  CloudStorageObjectMetadata: new (metadata: StoredFileMetadata) => Record<string, unknown>;
  /** The emulator's express app: a plain (req, res) handler. */
  createApp(projectId: string, emulator: unknown): Promise<RequestHandler>;
}

let cached: FirebaseStorageInternals | undefined;

export function firebaseStorageInternals(): FirebaseStorageInternals {
  if (!cached) {
    const files = require("firebase-tools/lib/emulator/storage/files") as Pick<FirebaseStorageInternals, "StoredFile">;
    const metadata = require("firebase-tools/lib/emulator/storage/metadata") as Pick<
      FirebaseStorageInternals,
      "StoredFileMetadata" | "CloudStorageObjectMetadata"
    >;
    const server = require("firebase-tools/lib/emulator/storage/server") as Pick<FirebaseStorageInternals, "createApp">;
    // The object resource of a composite object carries componentCount (and has no md5Hash, which
    // the base class leaves out when undefined). Replaced on the module: its API handlers
    // (apis/gcloud.js) look the class up there at each request.
    const Base = metadata.CloudStorageObjectMetadata;
    if (!(Base as { withComponentCount?: boolean }).withComponentCount) {
      metadata.CloudStorageObjectMetadata = class extends Base {
        static withComponentCount = true;
        constructor(md: StoredFileMetadata) {
          super(md);
          if (md.componentCount !== undefined) this.componentCount = md.componentCount;
        }
      };
    }
    cached = {
      StoredFile: files.StoredFile,
      StoredFileMetadata: metadata.StoredFileMetadata,
      CloudStorageObjectMetadata: metadata.CloudStorageObjectMetadata,
      createApp: server.createApp,
    };
  }
  return cached;
}
