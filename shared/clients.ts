import { Firestore } from '@google-cloud/firestore';
import { Storage, type Bucket } from '@google-cloud/storage';
import type { Config } from './config';
import { GcsMediaReader } from './storage/gcs-media';

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
  /** Whole objects of the blob bucket read without the Storage client's streams (the service's own reads of upload parts). */
  media: GcsMediaReader;
  close(): Promise<void>;
}

/**
 * Each client is made on first use (a getter), so a function loads and builds only the
 * clients it calls: the boot script never loads @google-cloud/storage, and a request that
 * needs neither (a 405, a refused network) loads neither. Constructors only: no connection
 * is opened until the first call.
 */
export function createClients(config: Config): Clients {
  const { GOOGLE_CLOUD_PROJECT: projectId, RATE_LIMIT_DATABASE: databaseId, BLOB_BUCKET, STORAGE_SIGNING_CREDENTIALS: signingKey } = config;
  const made: Firestore[] = [];
  const database = (settings: { databaseId?: string }) => () => {
    const db = new Firestore({ projectId, ignoreUndefinedProperties: true, ...settings });
    made.push(db);
    return db;
  };
  const firestore = once(database({}));
  const rateLimitFirestore = once(database({ databaseId }));
  const bucket = once(() => new Storage({ projectId }).bucket(BLOB_BUCKET));
  const signingBucket = once(() =>
    signingKey ? new Storage({ projectId, credentials: JSON.parse(signingKey) as { client_email: string; private_key: string } }).bucket(BLOB_BUCKET) : bucket(),
  );
  let mediaMade: GcsMediaReader | undefined;
  const media = once(() => (mediaMade = new GcsMediaReader(bucket())));
  return {
    get firestore() {
      return firestore();
    },
    get rateLimitFirestore() {
      return rateLimitFirestore();
    },
    get bucket() {
      return bucket();
    },
    get signingBucket() {
      return signingBucket();
    },
    get media() {
      return media();
    },
    async close() {
      await Promise.all([...made.map((db) => db.terminate()), mediaMade?.close()]);
    },
  };
}

function once<T>(make: () => T): () => T {
  let made: { value: T } | undefined;
  return () => (made ??= { value: make() }).value;
}
