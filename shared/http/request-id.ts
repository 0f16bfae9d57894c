import { uuidv7 } from 'uuidv7';

const wellFormed = /^[A-Za-z0-9._:-]{1,128}$/;

/** Keeps a caller's well-formed `X-Request-Id` so one id follows a request across hops. */
export function requestIdFrom(header: string | string[] | undefined): string {
  return typeof header === 'string' && wellFormed.test(header) ? header : uuidv7();
}
