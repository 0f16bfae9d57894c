import { parseUuidV7 } from '../domain/ids';
import { validationError } from './problem';

/** A UUIDv7 path parameter, or 400 naming the parameter. */
export function uuidV7Param(params: Record<string, string>, name: string): string {
  const id = parseUuidV7(params[name] ?? '');
  if (!id) throw validationError([{ field: name, reason: 'must be a UUIDv7' }], `Path parameter ${name} is not a valid UUIDv7`);
  return id;
}
