// Bench child: the embedded Firestore and Storage emulators in a process of their own,
// so that the gateway process's RSS and CPU are its own. Reports its hosts over IPC.
import { startEmbeddedEmulators } from '../emulators/embedded';

async function main(): Promise<void> {
  const emulators = await startEmbeddedEmulators({ firestorePort: 0, storagePort: 0 });
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    emulators.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  // The benchmark went away without stopping us: stop anyway.
  process.on('disconnect', stop);
  process.send?.({ type: 'ready', firestoreHost: emulators.firestoreHost, storageHost: emulators.storageHost });
}

main().catch((err: unknown) => {
  process.stderr.write(`bench emulators: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
