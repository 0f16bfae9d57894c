import type { TestProject } from 'vitest/node';
import { startEmbeddedEmulators } from '../emulators/embedded';
import { ensureLocalKeyPair } from '../emulators/local-issuer';

declare module 'vitest' {
  export interface ProvidedContext {
    firestoreHost: string;
    storageHost: string;
    emulatorKind: 'embedded' | 'official';
  }
}

/** One pair of emulators for the whole run: the embedded ones unless the environment names others. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // Made once here, before test files run in parallel and all read it.
  ensureLocalKeyPair();
  const given = process.env.FIRESTORE_EMULATOR_HOST && process.env.STORAGE_EMULATOR_HOST;
  const emulators = given ? undefined : await startEmbeddedEmulators({ firestorePort: 0, storagePort: 0 });
  project.provide('firestoreHost', process.env.FIRESTORE_EMULATOR_HOST ?? (emulators?.firestoreHost as string));
  project.provide('storageHost', process.env.STORAGE_EMULATOR_HOST ?? (emulators?.storageHost as string));
  project.provide('emulatorKind', emulators ? 'embedded' : 'official');
  return async () => {
    await emulators?.stop();
  };
}
