import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import jws from 'jws';
import { localIssuer, localKeyId } from '../shared/auth/verify';

/**
 * The local stack's token issuer: a key pair kept under .cache/local-auth so that
 * `npm run admin-token` and a running `npm start` agree. Never used in production,
 * where tokens come from Google.
 */
export const localAuthDir = resolve(__dirname, '../.cache/local-auth');
export const localAdminEmail = 'admin@netboot.local';

export function ensureLocalKeyPair(dir = localAuthDir): { privateKeyFile: string; publicKeyFile: string } {
  const privateKeyFile = join(dir, 'private.pem');
  const publicKeyFile = join(dir, 'public.pem');
  if (!existsSync(privateKeyFile) || !existsSync(publicKeyFile)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    writeFileSync(privateKeyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    writeFileSync(publicKeyFile, publicKey.export({ type: 'spki', format: 'pem' }));
  }
  return { privateKeyFile, publicKeyFile };
}

export interface TokenClaims {
  sub?: string;
  email?: string;
  email_verified?: boolean;
  aud?: string;
  iss?: string;
  /** Seconds since the epoch. */
  iat?: number;
  exp?: number;
}

/** An RS256 ID token shaped like Google's, signed with the local key. */
export function mintLocalToken(claims: TokenClaims = {}, dir = localAuthDir): string {
  const { privateKeyFile } = ensureLocalKeyPair(dir);
  const now = Math.floor(Date.now() / 1000);
  const payload = {
    iss: localIssuer,
    aud: process.env.ADMIN_TOKEN_AUDIENCE ?? 'netboot-admin',
    sub: claims.sub ?? claims.email ?? localAdminEmail,
    email: localAdminEmail,
    email_verified: true,
    iat: now,
    exp: now + 3600,
    ...claims,
  };
  return jws.sign({ header: { alg: 'RS256', kid: localKeyId, typ: 'JWT' }, payload, secret: readFileSync(privateKeyFile, 'utf8') });
}
