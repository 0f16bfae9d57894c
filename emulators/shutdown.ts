/**
 * For the local stack's long-running processes: on SIGINT, SIGTERM or the parent's IPC
 * channel closing, run `stop` once, then exit 0 (or 1 when stopping failed). Returns
 * the same trigger, for other reasons to stop.
 */
export function exitAfterStopping(stop: () => Promise<void>, name: string): (reason: string) => void {
  let stopping = false;
  const onSignal = (reason: string) => {
    if (stopping) return;
    stopping = true;
    if (reason !== 'disconnect') process.stderr.write(`\n${reason}: stopping ${name}\n`);
    stop().then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`${name}: error while stopping: ${String(err)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('disconnect', () => onSignal('disconnect'));
  return onSignal;
}
