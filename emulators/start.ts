/**
 * `npm start`: the whole service on embedded emulators behind one local gateway.
 * `npm start -- --data DIR` (or NETBOOT_DATA_DIR=DIR) keeps the emulators' data in DIR
 * across restarts: loaded at start, written when Ctrl-C stops the stack.
 * `npm start -- --tls [ecdsa|rsa] [--tls-name NAME]...` serves HTTPS under the local CA
 * (.cache/local-tls/ca.pem), Storage included (docs/local-tls.md).
 */
import { parseArgs } from 'node:util';
import { ConfigError } from '../shared/config';
import type { KeyType } from './tls/ca';
import { routes } from '../shared/routes';
import { exitAfterStopping } from './shutdown';
import { startLocalStack } from './stack';
import { ensureConsoleBuilt } from '../scripts/build-console';

async function main(): Promise<void> {
  const { dataDir, tls, tlsNames } = parseStartArgs(process.argv.slice(2));
  const port = Number(process.env.PORT ?? 8080);
  // The console's files, rebuilt only when a source is newer than the last build.
  const [stack] = await Promise.all([startLocalStack({ port, host: process.env.HOST ?? '127.0.0.1', dataDir, tls, tlsNames }), ensureConsoleBuilt()]);
  const storagePort = new URL(stack.storageUrl).port;
  const storageScheme = new URL(stack.storageUrl).protocol.slice(0, -1);
  const lines = [
    `netboot control plane listening on ${stack.url}`,
    `  console: ${stack.url}/console/  (sign in as admin@netboot.local)`,
    ...(stack.ca
      ? [`  TLS: ${tls} leaf for ${['localhost', '127.0.0.1', '10.0.2.2', ...(tlsNames ?? [])].join(', ')} under the local CA`, `  CA:  ${stack.ca.certPath}`, `  CA SHA-256 fingerprint: ${stack.ca.fingerprintSha256}`]
      : []),
    process.env.STORAGE_PUBLIC_URL
      ? `  Storage for machines (redirect mode): ${process.env.STORAGE_PUBLIC_URL} (STORAGE_PUBLIC_URL)`
      : `  Storage for machines (redirect mode): ${storageScheme}://<the host the machine asked the gateway by>:${storagePort}, e.g. ${storageScheme}://10.0.2.2:${storagePort} from a QEMU guest`,
    `  data: ${dataDir && stack.emulators ? `${dataDir} (kept across restarts)` : 'in memory (lost on exit; npm start -- --data DIR keeps it)'}`,
    `  Firestore emulator: ${process.env.FIRESTORE_EMULATOR_HOST}${stack.emulators ? ' (embedded)' : ''}`,
    `  Storage emulator:   ${process.env.STORAGE_EMULATOR_HOST}${stack.emulators ? ' (embedded)' : ''}`,
    ...routes.map((r) => `  ${r.methods.join(',').padEnd(9)} ${stack.url}${r.path}  -> ${r.fn}`),
  ];
  process.stderr.write(`${lines.join('\n')}\n`);

  exitAfterStopping(() => stack.stop(), 'the local stack');
}

/** `--data DIR`, `--tls [ecdsa|rsa]` (the key type may follow as its own word), `--tls-name NAME` (repeatable). */
function parseStartArgs(args: string[]): { dataDir?: string; tls?: KeyType; tlsNames?: string[] } {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { data: { type: 'string' }, tls: { type: 'boolean' }, 'tls-name': { type: 'string', multiple: true } },
  });
  const keyWords = positionals.filter((p) => p === 'ecdsa' || p === 'rsa') as KeyType[];
  const stray = positionals.filter((p) => p !== 'ecdsa' && p !== 'rsa');
  if (stray.length > 0 || keyWords.length > 1 || (keyWords.length > 0 && !values.tls)) {
    throw new ConfigError(`unexpected argument ${[...stray, ...keyWords].join(' ')}: npm start -- [--data DIR] [--tls [ecdsa|rsa]] [--tls-name NAME]...`);
  }
  if (values['tls-name'] && !values.tls) throw new ConfigError('--tls-name needs --tls');
  return {
    dataDir: values.data ?? process.env.NETBOOT_DATA_DIR,
    tls: values.tls ? (keyWords[0] ?? 'ecdsa') : undefined,
    tlsNames: values['tls-name'],
  };
}

main().catch((err: unknown) => {
  // A configuration mistake is one line naming the variable; anything else, the whole story.
  process.stderr.write(err instanceof ConfigError ? `npm start: ${err.message}\n` : `failed to start: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
