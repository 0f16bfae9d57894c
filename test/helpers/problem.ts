import { expect } from 'vitest';

/**
 * Asserts an RFC 7807 answer: the status, problem+json, the spec's members with the
 * given type slug, and the request id echoed in the body. Returns the body.
 */
export function expectProblem(res: { status: number; headers: Headers; body: unknown }, status: number, slug: string): Record<string, unknown> {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toBe('application/problem+json');
  const body = res.body as Record<string, unknown>;
  expect(body).toMatchObject({ type: `https://api.example.com/errors/${slug}`, status });
  expect(typeof body.title).toBe('string');
  expect(typeof body.detail).toBe('string');
  expect(typeof body.instance).toBe('string');
  expect(body.request_id).toBe(res.headers.get('x-request-id'));
  return body;
}
