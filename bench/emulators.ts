// Bench child: the embedded Firestore and Storage emulators in a process of their own,
// so that the gateway process's RSS and CPU are its own. Reports its hosts over IPC.
import { startEmbeddedEmulators } from '../emulators/embedded';
import { exitAfterStopping } from '../emulators/shutdown';

async function main(): Promise<void> {
  // HOST: listen on another address than loopback (bench/shaped-upload.ts: a veth a namespace reaches).
  const emulators = await startEmbeddedEmulators({ firestorePort: 0, storagePort: 0, ...(process.env.HOST ? { host: process.env.HOST } : {}) });
  exitAfterStopping(() => emulators.stop(), 'bench emulators');
  process.send?.({ type: 'ready', firestoreHost: emulators.firestoreHost, storageHost: emulators.storageHost });
}

main().catch((err: unknown) => {
  process.stderr.write(`bench emulators: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
