import { uuidv7 } from 'uuidv7';

const uuidV7Pattern = /^[\da-f]{8}-[\da-f]{4}-7[\da-f]{3}-[89ab][\da-f]{3}-[\da-f]{12}$/;

/** Canonical (lower-case) UUIDv7, or null when `value` is not one. */
export function parseUuidV7(value: string): string | null {
  const lower = value.toLowerCase();
  return uuidV7Pattern.test(lower) ? lower : null;
}

export function newId(): string {
  return uuidv7();
}
