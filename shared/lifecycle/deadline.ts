import { ProblemError } from '../http/problem';

/** What boot clients are told to wait before asking again (iPXE honours Retry-After on 503). */
export const bootRetryAfterSeconds = 5;

export function serviceUnavailable(detail: string, cause?: unknown): ProblemError {
  return Object.assign(new ProblemError('service-unavailable', detail, { retry_after: bootRetryAfterSeconds }, { 'Retry-After': String(bootRetryAfterSeconds) }), { cause });
}

/** gRPC codes that mean "the database is overloaded or unreachable right now": DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, UNAVAILABLE. */
const transientCodes = new Set([4, 8, 14]);

export function isUnavailable(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'number' && transientCodes.has(code);
}

/**
 * `work`, or a 503 `service-unavailable` with Retry-After when it takes longer than `ms` or
 * fails because the database is unavailable: a boot client waits and asks again rather
 * than hanging on a slow dependency. Other errors pass through.
 */
export async function withDeadline<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(serviceUnavailable(`${what} did not answer within ${ms} ms; try again later`)), ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } catch (err) {
    if (isUnavailable(err)) throw serviceUnavailable(`${what} is unavailable; try again later`, err);
    throw err;
  } finally {
    clearTimeout(timer);
    work.catch(() => undefined); // a late failure of abandoned work is not an unhandled rejection
  }
}
