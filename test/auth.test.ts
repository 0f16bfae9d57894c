import { execFileSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { localAdminEmail, mintLocalToken, type TokenClaims } from '../emulators/local-issuer';
import { googleRemovedSignature } from '../shared/auth/verify';
import { request, setEnv, useLocalStack } from './helpers/stack';
import { expectProblem } from './helpers/problem';

const stack = useLocalStack();
const now = () => Math.floor(Date.now() / 1000);
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

afterEach(() => setEnv({ ADMIN_PRINCIPALS: localAdminEmail, ADMIN_AUTH: undefined, ADMIN_GATEWAY_SERVICE_ACCOUNT: undefined, ADMIN_GATEWAY_SERVICE_ACCOUNT_ID: undefined }));

/** A local token with claims TokenClaims does not list (`hd`); the issuer spreads whatever it gets. */
const tokenWith = (claims: Record<string, unknown>) => mintLocalToken(claims as TokenClaims);

const gatewaySa = 'netboot-gateway@my-project.iam.gserviceaccount.com';

/** An ID token as Cloud Run hands it to the function after its IAM check: signature replaced. */
function strippedToken(claims: Record<string, unknown>): string {
  const header = Buffer.from(JSON.stringify({ alg: 'RS256', kid: 'google-key', typ: 'JWT' })).toString('base64url');
  const payload = Buffer.from(JSON.stringify({ iss: 'https://accounts.google.com', aud: 'https://admin-fn-abc-ew.a.run.app', iat: now(), exp: now() + 3600, ...claims })).toString('base64url');
  return `${header}.${payload}.${googleRemovedSignature}`;
}

/** X-Apigateway-Api-Userinfo as API Gateway forwards it: the caller's verified claims, base64url. */
const userinfo = (c: Record<string, unknown>) => ({ 'x-apigateway-api-userinfo': Buffer.from(JSON.stringify(c)).toString('base64url') });


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
    const as = (email: string, hd?: string) => request(stack.url, 'GET', '/api/v1/machines', { headers: bearer(tokenWith({ email, ...(hd ? { hd } : {}) })) });
    expect((await as('root@example.net')).status).toBe(200);
    expect((await as('Alice@OPS.example.org', 'ops.example.org')).status).toBe(200);
    expect((await as('alice@ops.example.org')).status).toBe(403); // no hd: not a Workspace account of the domain
    expect((await as('alice@notops.example.org', 'notops.example.org')).status).toBe(403);
    expect((await as(localAdminEmail)).status).toBe(403);
  });

  it('in gateway mode the claims API Gateway forwards are the identity, once the caller is the gateway', async () => {
    setEnv({ ADMIN_AUTH: 'gateway', ADMIN_GATEWAY_SERVICE_ACCOUNT: gatewaySa });
    const fromGateway = { authorization: `Bearer ${strippedToken({ email: gatewaySa, email_verified: true })}` };
    const as = (headers: Record<string, string>) => request(stack.url, 'GET', '/api/v1/machines', { anonymous: true, headers });
    expect((await as({ ...fromGateway, ...userinfo({ email: localAdminEmail, email_verified: true }) })).status).toBe(200);
    expectProblem(await as({ ...fromGateway, ...userinfo({ email: 'x@y.z', email_verified: true }) }), 403, 'forbidden');
    expectProblem(await as(fromGateway), 401, 'unauthorized');
    expectProblem(await as({ ...fromGateway, 'x-apigateway-api-userinfo': '%%%' }), 401, 'unauthorized');
    expectProblem(await as({ ...fromGateway, ...userinfo({ email: localAdminEmail, email_verified: false }) }), 401, 'unauthorized');
  });

  describe('gateway mode refuses forged claims from anyone but the gateway', () => {
    const admin = userinfo({ email: localAdminEmail, email_verified: true });
    const as = (headers: Record<string, string>) => request(stack.url, 'GET', '/api/v1/machines', { anonymous: true, headers });
    const forged: [string, () => Record<string, string>][] = [
      ['no Authorization at all (only the forged userinfo)', () => ({})],
      ["another account's token, as Cloud Run hands it over", () => ({ authorization: `Bearer ${strippedToken({ email: 'attacker@my-project.iam.gserviceaccount.com', email_verified: true })}` })],
      ['a look-alike of the gateway account', () => ({ authorization: `Bearer ${strippedToken({ email: `x${gatewaySa}`, email_verified: true })}` })],
      ['an expired gateway token', () => ({ authorization: `Bearer ${strippedToken({ email: gatewaySa, iat: now() - 7200, exp: now() - 3600 })}` })],
      ['a gateway token without exp', () => ({ authorization: `Bearer ${strippedToken({ email: gatewaySa, exp: undefined })}` })],
      ['a gateway-account token with a bad signature (not stripped by Cloud Run)', () => ({ authorization: `Bearer ${tampered(mintLocalToken({ email: 'mallory@example.org' }), { email: gatewaySa })}` })],
      ['a validly signed token of an administrator, not of the gateway', () => ({ authorization: `Bearer ${mintLocalToken()}` })],
      ['a Basic header', () => ({ authorization: 'Basic YWRtaW46YWRtaW4=' })],
    ];

    it.each(forged)('401 for %s', async (_name, headers) => {
      setEnv({ ADMIN_AUTH: 'gateway', ADMIN_GATEWAY_SERVICE_ACCOUNT: gatewaySa });
      const res = await as({ ...headers(), ...admin });
      expectProblem(res, 401, 'unauthorized');
    });

    it("accepts the gateway's token with its signature intact (verified here) and by sub = the account's unique id", async () => {
      setEnv({ ADMIN_AUTH: 'gateway', ADMIN_GATEWAY_SERVICE_ACCOUNT: gatewaySa, ADMIN_GATEWAY_SERVICE_ACCOUNT_ID: '112233445566778899001' });
      expect((await as({ authorization: `Bearer ${mintLocalToken({ email: gatewaySa, aud: 'https://admin-fn-abc-ew.a.run.app' })}`, ...admin })).status).toBe(200);
      expect((await as({ authorization: `Bearer ${strippedToken({ sub: '112233445566778899001' })}`, ...admin })).status).toBe(200);
      expectProblem(await as({ authorization: `Bearer ${strippedToken({ sub: '112233445566778899002' })}`, ...admin }), 401, 'unauthorized');
    });

    it('fails closed (500) when ADMIN_GATEWAY_SERVICE_ACCOUNT is not configured', async () => {
      setEnv({ ADMIN_AUTH: 'gateway', ADMIN_GATEWAY_SERVICE_ACCOUNT: undefined });
      const res = await as({ authorization: `Bearer ${strippedToken({ email: gatewaySa })}`, ...admin });
      expectProblem(res, 500, 'internal-error');
    });
  });

  describe('@domain principals need the hosted-domain claim', () => {
    const cases: [string, Record<string, unknown>, number][] = [
      ['a Workspace account of the domain', { email: 'alice@example.com', hd: 'example.com' }, 200],
      ['the same, any case', { email: 'Alice@EXAMPLE.com', hd: 'Example.COM' }, 200],
      ['a consumer account (no hd) whose verified email is x@example.com', { email: 'x@example.com' }, 403],
      ['a look-alike domain', { email: 'alice@evil-example.com', hd: 'evil-example.com' }, 403],
      ['a look-alike domain claiming the real hd', { email: 'alice@evil-example.com', hd: 'example.com' }, 403],
      ['a subdomain', { email: 'alice@sub.example.com', hd: 'sub.example.com' }, 403],
      ['a subdomain email with the parent hd', { email: 'alice@sub.example.com', hd: 'example.com' }, 403],
      ['another Workspace claiming an email of the domain', { email: 'alice@example.com', hd: 'other.org' }, 403],
    ];

    it.each(cases)('token mode: %s', async (_name, claims, status) => {
      setEnv({ ADMIN_PRINCIPALS: '@example.com' });
      const res = await request(stack.url, 'GET', '/api/v1/machines', { headers: bearer(tokenWith(claims)) });
      expect(res.status).toBe(status);
    });

    it.each(cases)('gateway mode: %s', async (_name, claims, status) => {
      setEnv({ ADMIN_PRINCIPALS: '@example.com', ADMIN_AUTH: 'gateway', ADMIN_GATEWAY_SERVICE_ACCOUNT: gatewaySa });
      const res = await request(stack.url, 'GET', '/api/v1/machines', {
        anonymous: true,
        headers: { authorization: `Bearer ${strippedToken({ email: gatewaySa })}`, ...userinfo({ ...claims, email_verified: true }) },
      });
      expect(res.status).toBe(status);
    });

    it('an unverified email never matches, hd or not', async () => {
      setEnv({ ADMIN_PRINCIPALS: '@example.com' });
      const res = await request(stack.url, 'GET', '/api/v1/machines', { headers: bearer(tokenWith({ email: 'alice@example.com', hd: 'example.com', email_verified: false })) });
      expectProblem(res, 401, 'unauthorized');
    });
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
