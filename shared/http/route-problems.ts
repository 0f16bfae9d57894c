import type { RouteMatch } from '../routes';
import { ProblemError } from './problem';

/**
 * The answers for requests no route takes, shared by every function (which receives
 * every path when deployed alone) and the local gateway, so both say the same.
 */
export function unroutedProblem(match: Exclude<RouteMatch, { kind: 'found' }>, method: string, path: string): ProblemError {
  const shownPath = path.slice(0, 256);
  return match.kind === 'wrong-method'
    ? new ProblemError('method-not-allowed', `${method} is not allowed on ${shownPath}`, {}, { Allow: match.allow.join(', ') })
    : new ProblemError('not-found', `No route for ${method} ${shownPath}`);
}

/** A body over `MAX_REQUEST_BYTES`, whether seen by the front door or the function. */
export function payloadTooLarge(max: number): ProblemError {
  return new ProblemError('payload-too-large', `The request body is larger than ${max} bytes`, { max_size: max });
}
