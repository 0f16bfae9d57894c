// `npm run emulators`: Java-free Firestore + Storage emulators for local development here.
// Where Java 21 and internet access exist, `firebase emulators:start` (firebase.json) is
// the same ports and env vars with the official emulators.
import { parseArgs } from "node:util";
import { startEmbeddedEmulators } from "./embedded";

function portFromEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`${name} must be a port number, got "${raw}"`);
  return port;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { data: { type: "string" } } });
  const dataDir = values.data ?? process.env.NETBOOT_DATA_DIR;
  const emulators = await startEmbeddedEmulators({
    firestorePort: portFromEnv("FIRESTORE_PORT", 8085),
    storagePort: portFromEnv("STORAGE_PORT", 9199),
    dataDir,
  });
  process.stdout.write(`export FIRESTORE_EMULATOR_HOST=${emulators.firestoreHost}\n`);
  process.stdout.write(`export STORAGE_EMULATOR_HOST=${emulators.storageHost}\n`);
  process.stderr.write(dataDir ? `Embedded emulators running (data kept in ${dataDir}). Ctrl-C to stop.\n` : "Embedded emulators running (data is lost on exit; --data DIR keeps it). Ctrl-C to stop.\n");

  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) process.exit(1); // second signal: give up waiting
    stopping = true;
    process.stderr.write(`${signal}: stopping emulators\n`);
    // No process.exit on success: the process ends once every handle is closed.
    emulators.stop().catch((err: unknown) => {
      process.stderr.write(`${String(err)}\n`);
      process.exitCode = 1;
    });
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
