// Bench child: the local gateway with every function, against the emulators named by
// FIRESTORE_EMULATOR_HOST / STORAGE_EMULATOR_HOST (required: this process must not embed
// them, or its RSS would include theirs). Reports its URL over IPC.
import { startLocalStack } from '../emulators/stack';

async function main(): Promise<void> {
  if (!process.env.FIRESTORE_EMULATOR_HOST || !process.env.STORAGE_EMULATOR_HOST) {
    throw new Error('FIRESTORE_EMULATOR_HOST and STORAGE_EMULATOR_HOST must be set');
  }
  const stack = await startLocalStack({ port: 0 });
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    stack.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.on('disconnect', stop);
  process.send?.({ type: 'ready', url: stack.url });
}

main().catch((err: unknown) => {
  process.stderr.write(`bench server: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
