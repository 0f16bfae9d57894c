import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { OAuth2Client } from 'google-auth-library';
import { getConfig } from '../config';
import { ProblemError } from '../http/problem';
import { isAdmin } from './principals';

export interface Principal {
  email: string;
  issuer: string;
}

/** Issuer of the tokens `npm run admin-token` mints; accepted only where a local key is configured. */
export const localIssuer = 'https://netboot.local';
export const localKeyId = 'netboot-local';
const googleIssuers = ['accounts.google.com', 'https://accounts.google.com'];

const client = new OAuth2Client();

function unauthorized(detail: string, error = 'invalid_token'): ProblemError {
  return new ProblemError('unauthorized', detail, {}, { 'WWW-Authenticate': `Bearer realm="netboot-admin", error="${error}"` });
}

function bearerToken(req: IncomingMessage): string {
  const header = req.headers.authorization;
  const match = header ? /^Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*)$/i.exec(header) : null;
  if (!header) throw new ProblemError('unauthorized', 'Admin endpoints need a bearer ID token', {}, { 'WWW-Authenticate': 'Bearer realm="netboot-admin"' });
  if (!match) throw unauthorized('The Authorization header is not a bearer JWT', 'invalid_request');
  return match[1] as string;
}

/**
 * The unverified key id, only to choose which keys verify the token. A header that is
 * not an RS256 JWS header is refused here, before any certificate is fetched.
 */
function keyIdOf(token: string): string | undefined {
  let header: { alg?: unknown; kid?: unknown };
  try {
    header = JSON.parse(Buffer.from(token.split('.')[0] ?? '', 'base64url').toString('utf8')) as typeof header;
  } catch {
    throw unauthorized('The ID token was rejected: malformed');
  }
  if (header?.alg !== 'RS256') throw unauthorized('The ID token was rejected: malformed');
  return typeof header.kid === 'string' ? header.kid : undefined;
}

let localKey: { file: string; pem: string } | undefined;

function localCerts(file: string): Record<string, string> {
  if (localKey?.file !== file) localKey = { file, pem: readFileSync(file, 'utf8') };
  return { [localKeyId]: localKey.pem };
}

/**
 * Verifies a Google-signed ID token (signature, issuer, audience, expiry) with
 * google-auth-library; the local stack's tokens go through the same call with the
 * local issuer's key in place of Google's certificates.
 */
async function verifyIdToken(token: string): Promise<Principal> {
  const { ADMIN_TOKEN_AUDIENCE: audience, LOCAL_AUTH_PUBLIC_KEY_FILE: localKeyFile } = getConfig();
  const isLocal = keyIdOf(token) === localKeyId && localKeyFile !== undefined;
  let payload;
  try {
    const certs = isLocal ? localCerts(localKeyFile) : (await client.getFederatedSignonCertsAsync()).certs;
    const ticket = await client.verifySignedJwtWithCertsAsync(token, certs, audience, isLocal ? [localIssuer] : googleIssuers);
    payload = ticket.getPayload();
  } catch (err) {
    throw unauthorized(`The ID token was rejected: ${reasonOf(err)}`);
  }
  if (!payload?.email || payload.email_verified !== true) throw unauthorized('The ID token carries no verified email');
  return { email: payload.email, issuer: payload.iss };
}

/** google-auth-library's messages embed the token; keep only the reason. */
function reasonOf(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  if (/expired|too late/i.test(message)) return 'expired';
  if (/audience/i.test(message)) return 'wrong audience';
  if (/issuer/i.test(message)) return 'wrong issuer';
  if (/signature|envelope|pem|certificate/i.test(message)) return 'bad signature';
  if (/early|used too early/i.test(message)) return 'not yet valid';
  return 'malformed';
}

/** Behind API Gateway, which verified the token itself and forwards its claims. */
function gatewayPrincipal(req: IncomingMessage): Principal {
  const header = req.headers['x-apigateway-api-userinfo'];
  if (typeof header !== 'string') throw unauthorized('No verified identity was forwarded by the gateway');
  try {
    const claims = JSON.parse(Buffer.from(header, 'base64url').toString('utf8')) as { email?: unknown; email_verified?: unknown; iss?: unknown };
    if (typeof claims.email === 'string' && claims.email_verified === true) return { email: claims.email, issuer: String(claims.iss ?? '') };
  } catch {
    // fall through
  }
  throw unauthorized('The forwarded identity carries no verified email');
}

/** 401 without a valid identity, 403 for a valid one that may not administer. */
export async function authenticateAdmin(req: IncomingMessage): Promise<Principal> {
  const config = getConfig();
  const principal = config.ADMIN_AUTH === 'gateway' ? gatewayPrincipal(req) : await verifyIdToken(bearerToken(req));
  if (!isAdmin(principal.email, config.ADMIN_PRINCIPALS)) {
    throw new ProblemError('forbidden', `${principal.email} may not administer this service`, { principal: principal.email });
  }
  return principal;
}
