import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { newId, parseUuidV7 } from '../domain/ids';

/**
 * A boot's reference and secret, as one token: `{machine id}.{boot id}.{secret}`. The script
 * carries it in its report URL and on the kernel line (`netboot.token=...`); the service
 * keeps only the secret's SHA-256, in the boot record. The secret is 32 random bytes
 * (base64url, 43 characters): nothing about it follows from the MAC or the ids. Every
 * character is one the kernel-argument rules allow (shared/domain/kernel-args.ts).
 */
export interface BootToken {
  machineId: string;
  bootId: string;
  secret: string;
}

const tokenPattern = /^([0-9a-f-]{36})\.([0-9a-f-]{36})\.([A-Za-z0-9_-]{43})$/;

export function newBootToken(machineId: string): BootToken {
  return { machineId, bootId: newId(), secret: randomBytes(32).toString('base64url') };
}

export function formatBootToken({ machineId, bootId, secret }: BootToken): string {
  return `${machineId}.${bootId}.${secret}`;
}

/** The token in a query parameter, or null when it is not one. */
export function parseBootToken(raw: unknown): BootToken | null {
  if (typeof raw !== 'string') return null;
  const match = tokenPattern.exec(raw);
  const machineId = match && parseUuidV7(match[1] ?? '');
  const bootId = match && parseUuidV7(match[2] ?? '');
  if (!match || !machineId || !bootId) return null;
  return { machineId, bootId, secret: match[3] ?? '' };
}

export function secretHash(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

/** Constant-time comparison of a presented secret with the stored hash. */
export function secretMatches(secret: string, storedHash: string): boolean {
  const a = Buffer.from(secretHash(secret), 'hex');
  const b = Buffer.from(storedHash, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The asset URLs' `boot` parameter: `{machine id}.{boot id}` (no secret: it only names where a download is recorded). */
export function formatBootRef({ machineId, bootId }: Pick<BootToken, 'machineId' | 'bootId'>): string {
  return `${machineId}.${bootId}`;
}

export function parseBootRef(raw: unknown): Pick<BootToken, 'machineId' | 'bootId'> | null {
  if (typeof raw !== 'string') return null;
  const [m, b, ...rest] = raw.split('.');
  const machineId = parseUuidV7(m ?? '');
  const bootId = parseUuidV7(b ?? '');
  return rest.length === 0 && machineId && bootId ? { machineId, bootId } : null;
}
