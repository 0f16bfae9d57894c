import { afterAll, beforeAll } from "vitest";
import { startStorage, type StorageFixture } from "./test-support";

/**
 * The Storage emulator for a whole test file: started before its tests (then `prepare`), stopped
 * after them with the environment restored. Its members are read inside tests, once started.
 */
export function useStorageEmulator(prepare?: (fx: StorageFixture) => Promise<void>): Pick<StorageFixture, "emu" | "storage"> {
  let fx: StorageFixture | undefined;
  beforeAll(async () => {
    fx = await startStorage();
    await prepare?.(fx);
  });
  afterAll(async () => {
    await fx?.emu.stop();
    fx?.restoreEnv();
  });
  const started = (): StorageFixture => {
    if (!fx) throw new Error("the Storage emulator is not started yet (use it inside a test)");
    return fx;
  };
  return {
    get emu() {
      return started().emu;
    },
    get storage() {
      return started().storage;
    },
  };
}
