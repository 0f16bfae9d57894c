// Bench child: the netboot CLI (cli/main.ts, as `npx netboot` runs it) in a process of its
// own, loaded before it is told what to do, so that its RSS growth is measured from a
// baseline with every module already in memory (start-up is timed apart). Reports `ready`
// over IPC, runs `main(['node', 'netboot', ...argv])` on `{ type: 'go', argv }`, answers
// `{ type: 'done', code }`, and stays until the parent has read its memory figures and
// stops it (SIGTERM or disconnect): an exited process has no VmRSS / VmHWM to read.
import { main } from '../cli/main';
// What `profile set` loads on first use (cli/main.ts requires commands lazily): loaded here, so
// that neither the timed run nor its RSS baseline includes loading them.
import '../cli/hash';
import '../cli/profile-set';
import '../cli/progress';
import '../cli/resumable';

interface Go {
  type: 'go';
  argv: string[];
}

process.on('message', (msg: Go) => {
  if (msg.type !== 'go') return;
  main(['node', 'netboot', ...msg.argv]).then(
    (code) => process.send?.({ type: 'done', code }),
    (err: unknown) => {
      process.stderr.write(`bench cli child: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.send?.({ type: 'done', code: 99 });
    },
  );
});
process.on('disconnect', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));
process.send?.({ type: 'ready', cli: true });
