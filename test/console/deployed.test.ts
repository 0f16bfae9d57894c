import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import { getTestServer } from '@google-cloud/functions-framework/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureConsoleBuilt } from '../../scripts/build-console';
import { useLocalStack } from '../helpers/stack';

/**
 * The console as Terraform deploys it: the consoleAssets function (GET /console/{file} behind the
 * API Gateway), asked directly, as the gateway's backend would be (the local gateway answers
 * /console/ itself, with its local sign-in).
 */
const stack = useLocalStack({ ADMIN_TOKEN_AUDIENCE: '1234-abc.apps.googleusercontent.com' });
let server: http.Server;
let base = '';

beforeAll(async () => {
  await ensureConsoleBuilt();
  void stack.url; // the stack registered every function
  server = getTestServer('consoleAssets');
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}, 120_000);
afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

describe('consoleAssets (deployed)', () => {
  it('serves index.html with Google sign-in for the API audience, uncached, with the CSP and no framing', async () => {
    const res = await fetch(`${base}/console/index.html`);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-cache');
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self' 'wasm-unsafe-eval' https://accounts.google.com/gsi/client");
    expect(csp).toContain('connect-src \'self\' https://storage.googleapis.com https://accounts.google.com/gsi/');
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toMatch(/'unsafe-inline'|'unsafe-eval'/);
    const html = await res.text();
    expect(html).toContain('<meta name="netboot-sign-in" content="google" />');
    expect(html).toContain('<meta name="netboot-google-client-id" content="1234-abc.apps.googleusercontent.com" />');
    const js = /src="\.\/(main-[A-Z0-9]{8}\.js)"/.exec(html)?.[1];
    const asset = await fetch(`${base}/console/${js}`);
    expect(asset.status).toBe(200);
    expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    const head = await fetch(`${base}/console/${js}`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
  });

  it('404 problem for anything else', async () => {
    for (const name of ['config.json', 'local-token', '..%2Fpackage.json', 'main-XXXXXXXX.js']) {
      const res = await fetch(`${base}/console/${name}`);
      expect(res.status, name).toBe(404);
      expect(res.headers.get('content-type')).toMatch(/problem\+json/);
    }
  });
});
