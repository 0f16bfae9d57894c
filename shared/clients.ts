import { Firestore } from '@google-cloud/firestore';
import { Storage, type Bucket } from '@google-cloud/storage';
import { getConfig } from './config';

let firestore: Firestore | undefined;
let storage: Storage | undefined;

/** One client per process, created on first use so tests and the local stack can set the environment first. */
export function getFirestore(): Firestore {
  firestore ??= new Firestore({ projectId: getConfig().GOOGLE_CLOUD_PROJECT, ignoreUndefinedProperties: true });
  return firestore;
}

let rateLimitFirestore: Firestore | undefined;

/** The database of rate-limit counters and download leases (`RATE_LIMIT_DATABASE`), apart from the inventory. */
export function getRateLimitFirestore(): Firestore {
  const { GOOGLE_CLOUD_PROJECT: projectId, RATE_LIMIT_DATABASE: databaseId } = getConfig();
  rateLimitFirestore ??= new Firestore({ projectId, databaseId, ignoreUndefinedProperties: true });
  return rateLimitFirestore;
}

export function getStorage(): Storage {
  storage ??= new Storage({ projectId: getConfig().GOOGLE_CLOUD_PROJECT });
  return storage;
}

export function getBucket(): Bucket {
  return getStorage().bucket(getConfig().BLOB_BUCKET);
}

let signingStorage: Storage | undefined;

/** The bucket to sign URLs with: the runtime identity (IAM signBlob) unless a local key is configured. */
export function getSigningBucket(): Bucket {
  const { STORAGE_SIGNING_CREDENTIALS: key, GOOGLE_CLOUD_PROJECT: projectId, BLOB_BUCKET } = getConfig();
  if (!key) return getBucket();
  signingStorage ??= new Storage({ projectId, credentials: JSON.parse(key) as { client_email: string; private_key: string } });
  return signingStorage.bucket(BLOB_BUCKET);
}

/** Drops cached clients (tests switch projects between files). */
export async function resetClients(): Promise<void> {
  await firestore?.terminate();
  await rateLimitFirestore?.terminate();
  firestore = undefined;
  rateLimitFirestore = undefined;
  storage = undefined;
  signingStorage = undefined;
}
