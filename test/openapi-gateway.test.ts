import { describe, expect, it } from 'vitest';
import { openApiText } from '../shared/api/openapi';
import { request, useLocalStack } from './helpers/stack';

const stack = useLocalStack();

describe('GET /openapi.json (local gateway only)', () => {
  it('serves the generated OpenAPI 3.1 document', async () => {
    const res = await request<{ openapi: string }>(stack.url, 'GET', '/openapi.json', { unchecked: true });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.headers.get('x-request-id')).toBeTruthy();
    expect(res.body.openapi).toBe('3.1.0');
    expect(res.text).toBe(openApiText());
  });

  it('HEAD gives the headers only; other methods get the gateway 404 (not a route)', async () => {
    const head = await request(stack.url, 'HEAD', '/openapi.json', { unchecked: true });
    expect(head.status).toBe(200);
    expect(head.text).toBe('');
    const post = await request(stack.url, 'POST', '/openapi.json');
    expect(post.status).toBe(404);
  });
});
