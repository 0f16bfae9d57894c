// Storm child: the embedded Firestore and Storage emulators in a process of their own (as
// bench/emulators.ts), with the Firestore operation counter on. The parent asks over IPC:
// { type: 'firestore-ops', reset?: boolean } -> { type: 'firestore-ops', counts }.
import { startEmbeddedEmulators } from '../../emulators/embedded';
import { firestoreOperations } from '../../emulators/firestore/operations';
import { exitAfterStopping } from '../../emulators/shutdown';

export type OpsRequest = { type: 'firestore-ops'; reset?: boolean; windowSeconds?: number };

async function main(): Promise<void> {
  firestoreOperations.enable();
  const emulators = await startEmbeddedEmulators({ firestorePort: 0, storagePort: 0 });
  exitAfterStopping(() => emulators.stop(), 'storm emulators');
  process.on('message', (msg: OpsRequest) => {
    if (msg?.type !== 'firestore-ops') return;
    const counts = firestoreOperations.snapshot(msg.windowSeconds ?? 10);
    if (msg.reset) firestoreOperations.reset();
    process.send?.({ type: 'firestore-ops', counts });
  });
  process.send?.({ type: 'ready', firestoreHost: emulators.firestoreHost, storageHost: emulators.storageHost });
}

main().catch((err: unknown) => {
  process.stderr.write(`storm emulators: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
