/** What functions-framework's per-request `domain` offers here (node:domain's documented `enter` / `exit`). */
interface ActiveDomain {
  enter(): void;
  exit(): void;
}

/**
 * Runs `start` with no domain active, so that what it starts (a batch's Firestore call, a Storage
 * read stream: their timers, sockets, streams and promises) belongs to no request.
 * functions-framework runs each request in a `domain` (function_wrappers.js, 5.0.5), and every
 * promise made and event emitted inside one costs async-hook and domain work: 300,000 awaits take
 * 1.4 s of CPU in a domain against 0.3 s outside one (Node 24, measured), and reading 151 MiB of
 * upload parts spent 0.2 s of 1.2 s in domain enter/exit. What starts outside must report its
 * errors to its caller (a promise's rejection, a stream's 'error'), never as a request's crash.
 */
export function outsideRequestDomain<T>(start: () => T): T {
  const active = (process as { domain?: ActiveDomain | null }).domain;
  if (!active) return start();
  active.exit();
  try {
    return start();
  } finally {
    active.enter();
  }
}
