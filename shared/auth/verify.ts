import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { OAuth2Client } from 'google-auth-library';
import type { Config } from '../config';
import { ProblemError } from '../http/problem';
import { isAdmin } from './principals';

/** The configuration values admin authentication reads (injected by the caller). */
export type AdminAuthConfig = Pick<
  Config,
  'ADMIN_AUTH' | 'ADMIN_TOKEN_AUDIENCE' | 'ADMIN_PRINCIPALS' | 'ADMIN_GATEWAY_SERVICE_ACCOUNT' | 'ADMIN_GATEWAY_SERVICE_ACCOUNT_ID' | 'LOCAL_AUTH_PUBLIC_KEY_FILE'
>;

export interface Principal {
  email: string;
  issuer: string;
  /** The token's `hd` (hosted domain) claim, when it has one: what `@domain` principals match. */
  hd?: string;
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
async function verifyIdToken(token: string, config: AdminAuthConfig): Promise<Principal> {
  const payload = await verifiedPayload(token, config.ADMIN_TOKEN_AUDIENCE, config.LOCAL_AUTH_PUBLIC_KEY_FILE);
  if (!payload?.email || payload.email_verified !== true) throw unauthorized('The ID token carries no verified email');
  return { email: payload.email, issuer: payload.iss, ...(typeof payload.hd === 'string' ? { hd: payload.hd } : {}) };
}

/** Signature, issuer, expiry and (unless undefined) audience; the claims, or 401. */
async function verifiedPayload(token: string, audience: string | undefined, localKeyFile: string | undefined) {
  const isLocal = keyIdOf(token) === localKeyId && localKeyFile !== undefined;
  try {
    const certs = isLocal ? localCerts(localKeyFile) : (await client.getFederatedSignonCertsAsync()).certs;
    const ticket = await client.verifySignedJwtWithCertsAsync(token, certs, audience, isLocal ? [localIssuer] : googleIssuers);
    return ticket.getPayload();
  } catch (err) {
    throw unauthorized(`The ID token was rejected: ${reasonOf(err)}`);
  }
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

/**
 * Behind API Gateway, which verified the caller's token itself and forwards its claims.
 * Trusted only after assertGatewayCaller: the request itself must come from the gateway.
 */
function gatewayPrincipal(req: IncomingMessage): Principal {
  const header = req.headers['x-apigateway-api-userinfo'];
  if (typeof header !== 'string') throw unauthorized('No verified identity was forwarded by the gateway');
  try {
    const claims = JSON.parse(Buffer.from(header, 'base64url').toString('utf8')) as { email?: unknown; email_verified?: unknown; iss?: unknown; hd?: unknown };
    if (typeof claims.email === 'string' && claims.email_verified === true) {
      return { email: claims.email, issuer: String(claims.iss ?? ''), ...(typeof claims.hd === 'string' ? { hd: claims.hd } : {}) };
    }
  } catch {
    // fall through
  }
  throw unauthorized('The forwarded identity carries no verified email');
}

// --- Gateway mode: who is calling the function -------------------------------------------
//
// API Gateway calls its backend with an ID token of its own service account in
// `Authorization` (the caller's original header moves to `X-Forwarded-Authorization`), and
// Cloud Run's IAM check verifies that token (signature, audience = the function's URL,
// expiry, roles/run.invoker) before the function runs, then hands the function the token with
// its signature replaced by `SIGNATURE_REMOVED_BY_GOOGLE`. Only the gateway's account may
// invoke the admin functions (terraform/iam.tf), but IAM is configuration: the function also
// checks that the verified caller IS the gateway before it believes X-Apigateway-Api-Userinfo.

/** What Cloud Run puts in place of the signature of an ID token its IAM check verified. */
export const googleRemovedSignature = 'SIGNATURE_REMOVED_BY_GOOGLE';

/** The gateway's service account (`ADMIN_GATEWAY_SERVICE_ACCOUNT`, `_ID`). */
export interface GatewayAccount {
  email: string;
  /** Its numeric unique id: the `sub` of its ID tokens. */
  uniqueId?: string;
}

/**
 * Pure: the claims of a caller token name the gateway's account (by `email`, or by `sub` =
 * its unique id) and have not expired. Case-insensitive emails; never a suffix match.
 */
export function isGatewayCaller(claims: { email?: unknown; sub?: unknown; exp?: unknown }, account: GatewayAccount, nowSeconds: number): boolean {
  if (typeof claims.exp !== 'number' || claims.exp <= nowSeconds) return false;
  const byEmail = typeof claims.email === 'string' && claims.email.trim().toLowerCase() === account.email.trim().toLowerCase();
  const byId = account.uniqueId !== undefined && account.uniqueId !== '' && typeof claims.sub === 'string' && claims.sub === account.uniqueId;
  return byEmail || byId;
}

/** Pure: the three segments of a compact JWS, and whether Cloud Run stripped its signature. */
export function splitCallerToken(token: string): { payload: Record<string, unknown>; signatureRemoved: boolean } | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  try {
    const payload = JSON.parse(Buffer.from(parts[1] as string, 'base64url').toString('utf8')) as unknown;
    if (!payload || typeof payload !== 'object' || Array.isArray(payload)) return undefined;
    return { payload: payload as Record<string, unknown>, signatureRemoved: parts[2] === googleRemovedSignature };
  } catch {
    return undefined;
  }
}

/**
 * 401 unless `Authorization` carries an ID token of the gateway's service account: either as
 * Cloud Run delivers it after its IAM check (signature removed), or with its signature intact,
 * which is then verified here against Google's keys. Fails closed (500) when the account is
 * not configured.
 */
export async function assertGatewayCaller(
  req: IncomingMessage,
  account: GatewayAccount | undefined,
  localKeyFile: string | undefined,
  nowSeconds = Math.floor(Date.now() / 1000),
): Promise<void> {
  if (!account?.email) {
    throw new ProblemError('internal-error', 'ADMIN_AUTH=gateway needs ADMIN_GATEWAY_SERVICE_ACCOUNT (the gateway service account)');
  }
  const token = bearerToken(req);
  keyIdOf(token);
  const parsed = splitCallerToken(token);
  if (!parsed) throw unauthorized('The gateway token is malformed');
  const claims = parsed.signatureRemoved ? parsed.payload : ((await verifiedPayload(token, undefined, localKeyFile)) as Record<string, unknown> | undefined);
  if (!claims || !isGatewayCaller(claims, account, nowSeconds)) throw unauthorized('The request was not made by the API gateway');
}

/** The gateway account from the configuration values (undefined when not configured). */
export function gatewayAccountOf(email: string | undefined, uniqueId: string | undefined): GatewayAccount | undefined {
  return email ? { email, ...(uniqueId ? { uniqueId } : {}) } : undefined;
}

/** 401 without a valid identity, 403 for a valid one that may not administer. */
export async function authenticateAdmin(req: IncomingMessage, config: AdminAuthConfig): Promise<Principal> {
  let principal: Principal;
  if (config.ADMIN_AUTH === 'gateway') {
    await assertGatewayCaller(req, gatewayAccountOf(config.ADMIN_GATEWAY_SERVICE_ACCOUNT, config.ADMIN_GATEWAY_SERVICE_ACCOUNT_ID), config.LOCAL_AUTH_PUBLIC_KEY_FILE);
    principal = gatewayPrincipal(req);
  } else {
    principal = await verifyIdToken(bearerToken(req), config);
  }
  if (!isAdmin(principal, config.ADMIN_PRINCIPALS)) {
    throw new ProblemError('forbidden', `${principal.email} may not administer this service`, { principal: principal.email });
  }
  return principal;
}
