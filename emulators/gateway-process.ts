/**
 * One local gateway in a process of its own, on the emulators FIRESTORE_EMULATOR_HOST and
 * STORAGE_EMULATOR_HOST name (required: it must not embed its own, so that several such
 * processes share one store, and so that its RSS is its own). A second "instance" for
 * tests that show state is shared, and the server under `npm run bench`.
 *
 * Announces itself as `listening <url>` on stdout and, when forked with IPC, as a
 * `{ type: 'ready', url }` message. Stops on SIGTERM / SIGINT, when the parent's IPC
 * channel closes, or when a piped stdin ends.
 */
import { fstatSync } from 'node:fs';
import { exitAfterStopping } from './shutdown';
import { startLocalStack } from './stack';
import type { KeyType } from './tls/ca';

async function main(): Promise<void> {
  if (!process.env.FIRESTORE_EMULATOR_HOST || !process.env.STORAGE_EMULATOR_HOST) {
    throw new Error('FIRESTORE_EMULATOR_HOST and STORAGE_EMULATOR_HOST must name the emulators to use');
  }
  // NETBOOT_TLS=ecdsa|rsa: HTTPS under the local CA, as `npm start -- --tls` (the bench's TLS step).
  const tls = process.env.NETBOOT_TLS as KeyType | undefined;
  if (tls !== undefined && tls !== 'ecdsa' && tls !== 'rsa') throw new Error(`NETBOOT_TLS must be ecdsa or rsa, not ${String(tls)}`);
  // HOST moves it off loopback, as for `npm start` (emulators/start.ts).
  const stack = await startLocalStack({ port: Number(process.env.PORT ?? 0), ...(process.env.HOST ? { host: process.env.HOST } : {}), tls });
  const stop = exitAfterStopping(() => stack.stop(), 'gateway process');
  const stdin = fstatSync(0);
  if (stdin.isFIFO() || stdin.isSocket()) {
    process.stdin.on('end', () => stop('stdin closed'));
    process.stdin.resume();
  }
  process.stdout.write(`listening ${stack.url}\n`);
  process.send?.({ type: 'ready', url: stack.url });
}

main().catch((err: unknown) => {
  process.stderr.write(`gateway process failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
