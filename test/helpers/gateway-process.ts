/**
 * One local gateway in a process of its own, on the emulators FIRESTORE_EMULATOR_HOST and
 * STORAGE_EMULATOR_HOST name: a second "instance" for tests that show state is shared
 * between instances (test/ratelimit-shared.test.ts). Prints `listening <url>`, stops when
 * its stdin closes or on SIGTERM.
 */
import { startLocalStack } from '../../emulators/stack';

async function main(): Promise<void> {
  if (!process.env.FIRESTORE_EMULATOR_HOST || !process.env.STORAGE_EMULATOR_HOST) {
    throw new Error('FIRESTORE_EMULATOR_HOST and STORAGE_EMULATOR_HOST must name the emulators to share');
  }
  const stack = await startLocalStack();
  process.stdout.write(`listening ${stack.url}\n`);
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    stack.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.stdin.on('end', stop);
  process.stdin.resume();
  process.on('SIGTERM', stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`gateway process failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
