/**
 * `npm start`: the whole service on embedded emulators behind one local gateway.
 * `npm start -- --data DIR` (or NETBOOT_DATA_DIR=DIR) keeps the emulators' data in DIR
 * across restarts: loaded at start, written when Ctrl-C stops the stack.
 */
import { parseArgs } from 'node:util';
import { ConfigError } from '../shared/config';
import { routes } from '../shared/routes';
import { exitAfterStopping } from './shutdown';
import { startLocalStack } from './stack';

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { data: { type: 'string' } } });
  const dataDir = values.data ?? process.env.NETBOOT_DATA_DIR;
  const port = Number(process.env.PORT ?? 8080);
  const stack = await startLocalStack({ port, host: process.env.HOST ?? '127.0.0.1', dataDir });
  const lines = [
    `netboot control plane listening on ${stack.url}`,
    `  data: ${dataDir && stack.emulators ? `${dataDir} (kept across restarts)` : 'in memory (lost on exit; npm start -- --data DIR keeps it)'}`,
    `  Firestore emulator: ${process.env.FIRESTORE_EMULATOR_HOST}${stack.emulators ? ' (embedded)' : ''}`,
    `  Storage emulator:   ${process.env.STORAGE_EMULATOR_HOST}${stack.emulators ? ' (embedded)' : ''}`,
    ...routes.map((r) => `  ${r.methods.join(',').padEnd(9)} ${stack.url}${r.path}  -> ${r.fn}`),
  ];
  process.stderr.write(`${lines.join('\n')}\n`);

  exitAfterStopping(() => stack.stop(), 'the local stack');
}

main().catch((err: unknown) => {
  // A configuration mistake is one line naming the variable; anything else, the whole story.
  process.stderr.write(err instanceof ConfigError ? `npm start: ${err.message}\n` : `failed to start: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
