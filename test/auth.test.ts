import { execFileSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { localAdminEmail, mintLocalToken } from '../emulators/local-issuer';
import { request, setEnv, useLocalStack } from './helpers/stack';
import { expectProblem } from './helpers/problem';

const stack = useLocalStack();
const now = () => Math.floor(Date.now() / 1000);
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

afterEach(() => setEnv({ ADMIN_PRINCIPALS: localAdminEmail, ADMIN_AUTH: undefined }));


/** Header and payload of `token` with the payload's claims changed, the signature kept. */
function tampered(token: string, claims: Record<string, unknown>): string {
  const [header, payload, signature] = token.split('.') as [string, string, string];
  const changed = { ...JSON.parse(Buffer.from(payload, 'base64url').toString()), ...claims };
  return `${header}.${Buffer.from(JSON.stringify(changed)).toString('base64url')}.${signature}`;
}

describe('admin authentication', () => {
  const adminPaths: [string, string][] = [
    ['GET', '/api/v1/machines'],
    ['POST', '/api/v1/machines'],
    ['GET', '/api/v1/machines/018c7dbd-c000-7000-8000-fedcba987654'],
    ['PUT', '/api/v1/machines/018c7dbd-c000-7000-8000-fedcba987654'],
    ['DELETE', '/api/v1/machines/018c7dbd-c000-7000-8000-fedcba987654'],
    ['POST', '/api/v1/profiles'],
    ['GET', '/api/v1/boot/018c7dbd-c000-7000-8000-fedcba987654/profile'],
    ['PUT', '/api/v1/boot/018c7dbd-c000-7000-8000-fedcba987654/profile'],
    ['DELETE', '/api/v1/boot/018c7dbd-c000-7000-8000-fedcba987654/profile'],
  ];

  it.each(adminPaths)('%s %s without credentials is 401 with WWW-Authenticate', async (method, path) => {
    const res = await request(stack.url, method, path, { anonymous: true });
    expectProblem(res, 401, 'unauthorized');
    expect(res.headers.get('www-authenticate')).toBe('Bearer realm="netboot-admin"');
    expect(res.headers.get('x-api-version')).toBe('v1');
  });

  const rejected: [string, () => Record<string, string>, string][] = [
    ['a Basic header', () => ({ authorization: 'Basic YWRtaW46YWRtaW4=' }), 'invalid_request'],
    ['a bearer that is not a JWT', () => bearer('not-a-token'), 'invalid_request'],
    ['an expired token', () => bearer(mintLocalToken({ iat: now() - 7200, exp: now() - 3600 })), 'invalid_token'],
    ['a token for another audience', () => bearer(mintLocalToken({ aud: 'https://other.example' })), 'invalid_token'],
    ['a token from another issuer', () => bearer(mintLocalToken({ iss: 'https://accounts.google.com' })), 'invalid_token'],
    ['a tampered token (email changed)', () => bearer(tampered(mintLocalToken({ email: 'mallory@example.org' }), { email: localAdminEmail })), 'invalid_token'],
    ['a tampered token (expiry extended)', () => bearer(tampered(mintLocalToken({ iat: now() - 7200, exp: now() - 3600 }), { exp: now() + 3600 })), 'invalid_token'],
    ['a token signed with alg none', () => bearer(`${Buffer.from('{"alg":"none","kid":"netboot-local"}').toString('base64url')}.${mintLocalToken().split('.')[1]}.`), 'invalid_token'],
    ['a JWT whose header is not JSON', () => bearer(`bm90LWpzb24.${mintLocalToken().split('.')[1]}.c2ln`), 'invalid_token'],
    ['an HS256 token', () => bearer(`${Buffer.from('{"alg":"HS256","kid":"netboot-local"}').toString('base64url')}.${mintLocalToken().split('.')[1]}.c2ln`), 'invalid_token'],
    ['an unverified email', () => bearer(mintLocalToken({ email_verified: false })), 'invalid_token'],
  ];

  it.each(rejected)('401 for %s', async (_name, headers, error) => {
    const res = await request(stack.url, 'GET', '/api/v1/machines', { headers: headers() });
    expectProblem(res, 401, 'unauthorized');
    expect(res.headers.get('www-authenticate')).toBe(`Bearer realm="netboot-admin", error="${error}"`);
    expect(res.text).not.toMatch(/eyJ/); // the token never comes back
  });

  it('the scheme name is case-insensitive', async () => {
    expect((await request(stack.url, 'GET', '/api/v1/machines', { headers: { authorization: `bearer ${mintLocalToken()}` } })).status).toBe(200);
  });

  it('403 for a valid identity that is not an administrator', async () => {
    const res = await request(stack.url, 'GET', '/api/v1/machines', { headers: bearer(mintLocalToken({ email: 'mallory@example.org' })) });
    expect(expectProblem(res, 403, 'forbidden').principal).toBe('mallory@example.org');
  });

  it('ADMIN_PRINCIPALS takes emails and @domains', async () => {
    setEnv({ ADMIN_PRINCIPALS: 'root@example.net, @ops.example.org' });
    const as = (email: string) => request(stack.url, 'GET', '/api/v1/machines', { headers: bearer(mintLocalToken({ email })) });
    expect((await as('root@example.net')).status).toBe(200);
    expect((await as('Alice@OPS.example.org')).status).toBe(200);
    expect((await as('alice@notops.example.org')).status).toBe(403);
    expect((await as(localAdminEmail)).status).toBe(403);
  });

  it('in gateway mode the claims API Gateway forwards are the identity', async () => {
    setEnv({ ADMIN_AUTH: 'gateway' });
    const claims = (c: Record<string, unknown>) => ({ 'x-apigateway-api-userinfo': Buffer.from(JSON.stringify(c)).toString('base64url') });
    expect((await request(stack.url, 'GET', '/api/v1/machines', { anonymous: true, headers: claims({ email: localAdminEmail, email_verified: true }) })).status).toBe(200);
    expectProblem(await request(stack.url, 'GET', '/api/v1/machines', { anonymous: true, headers: claims({ email: 'x@y.z', email_verified: true }) }), 403, 'forbidden');
    expectProblem(await request(stack.url, 'GET', '/api/v1/machines', { anonymous: true }), 401, 'unauthorized');
    expectProblem(await request(stack.url, 'GET', '/api/v1/machines', { anonymous: true, headers: { 'x-apigateway-api-userinfo': '%%%' } }), 401, 'unauthorized');
  });

  it('health and boot endpoints stay open', async () => {
    const live = await request(stack.url, 'GET', '/health/liveness');
    expect(live.status).toBe(200);
    expect(live.text).toBe('');
    expect((await request(stack.url, 'GET', '/health/startup')).status).toBe(200);
    expect((await request(stack.url, 'GET', '/boot.ipxe?mac=52:54:00:00:00:99')).status).toBe(404);
  });

  it('`npm run --silent admin-token` prints a token the stack accepts', async () => {
    const token = execFileSync('npm', ['run', '--silent', 'admin-token'], { encoding: 'utf8', env: { ...process.env, npm_config_loglevel: 'silent' } }).trim();
    expect(token).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
    expect((await request(stack.url, 'GET', '/api/v1/machines', { headers: bearer(token) })).status).toBe(200);
  });
});
