import { Firestore } from '@google-cloud/firestore';
import { Storage, type Bucket } from '@google-cloud/storage';
import type { Config } from './config';

/** The Google clients a process needs, made once by the composition root. */
export interface Clients {
  /** The inventory: machines, MAC index, profiles. */
  firestore: Firestore;
  /** Rate-limit counters and download leases (`RATE_LIMIT_DATABASE`), apart from the inventory. */
  rateLimitFirestore: Firestore;
  /** The blob bucket. */
  bucket: Bucket;
  /** The blob bucket through a client that signs URLs: the runtime identity (IAM signBlob) unless a local key is configured. */
  signingBucket: Bucket;
  close(): Promise<void>;
}

/** Constructors only: no connection is opened until the first call. */
export function createClients(config: Config): Clients {
  const { GOOGLE_CLOUD_PROJECT: projectId, RATE_LIMIT_DATABASE: databaseId, BLOB_BUCKET, STORAGE_SIGNING_CREDENTIALS: signingKey } = config;
  const firestore = new Firestore({ projectId, ignoreUndefinedProperties: true });
  const rateLimitFirestore = new Firestore({ projectId, databaseId, ignoreUndefinedProperties: true });
  const storage = new Storage({ projectId });
  const bucket = storage.bucket(BLOB_BUCKET);
  const signingBucket = signingKey
    ? new Storage({ projectId, credentials: JSON.parse(signingKey) as { client_email: string; private_key: string } }).bucket(BLOB_BUCKET)
    : bucket;
  return {
    firestore,
    rateLimitFirestore,
    bucket,
    signingBucket,
    async close() {
      await Promise.all([firestore.terminate(), rateLimitFirestore.terminate()]);
    },
  };
}
