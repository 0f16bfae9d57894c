import { beforeAll, describe, expect, it } from 'vitest';
import { aMachine } from './helpers/fixtures';
import { expectProblem } from './helpers/problem';
import { postProfile, profileForm, randomFile } from './helpers/profiles';
import { request, useLocalStack } from './helpers/stack';

/** GET /api/v1/boot/{machine_id}/profile/{user-data|vendor-data}: the admin's read of a profile's cloud-init documents (the console shows them). */
const stack = useLocalStack();
const api = <T = Record<string, unknown>>(method: string, path: string, init?: Parameters<typeof request>[3]) => request<T>(stack.url, method, path, init);
const userData = '#cloud-config\n# <script>alert(1)</script>\nhostname: web-1\n';
const vendorData = '#!/bin/sh\necho vendor\n';
let withData = '';
let without = '';

beforeAll(async () => {
  withData = (await api<{ id: string }>('POST', '/api/v1/machines', { json: aMachine() })).body.id;
  without = (await api<{ id: string }>('POST', '/api/v1/machines', { json: aMachine() })).body.id;
  expect((await postProfile(stack.url, profileForm({ machine_id: withData, kernel: randomFile(64), initrd: randomFile(64), extra: [['user_data', new TextEncoder().encode(userData)], ['vendor_data', new TextEncoder().encode(vendorData)]] }))).status).toBe(201);
  expect((await postProfile(stack.url, profileForm({ machine_id: without, kernel: randomFile(64), initrd: randomFile(64) }))).status).toBe(201);
});

describe('a profile’s cloud-init documents for administrators', () => {
  it('answers user-data and vendor-data byte for byte, typed by format', async () => {
    const user = await api('GET', `/api/v1/boot/${withData}/profile/user-data`);
    expect(user.status).toBe(200);
    expect(user.text).toBe(userData);
    expect(user.headers.get('content-type')).toMatch(/^text\/cloud-config/);
    const vendor = await api('GET', `/api/v1/boot/${withData}/profile/vendor-data`);
    expect(vendor.text).toBe(vendorData);
    expect(vendor.headers.get('content-type')).toMatch(/^text\/x-shellscript/);
  });

  it('404 for a profile without it, a machine without a profile; 400 for a bad path; 401 without a token', async () => {
    expectProblem(await api('GET', `/api/v1/boot/${without}/profile/user-data`), 404, 'not-found');
    const bare = (await api<{ id: string }>('POST', '/api/v1/machines', { json: aMachine() })).body.id;
    expectProblem(await api('GET', `/api/v1/boot/${bare}/profile/user-data`), 404, 'boot-profile-not-found');
    expectProblem(await api('GET', `/api/v1/boot/default/profile/user-data`), 404, 'boot-profile-not-found');
    expectProblem(await api('GET', `/api/v1/boot/${withData}/profile/meta-data`), 400, 'validation-error');
    expectProblem(await api('GET', '/api/v1/boot/nope/profile/user-data'), 400, 'validation-error');
    expectProblem(await api('GET', `/api/v1/boot/${withData}/profile/user-data`, { anonymous: true }), 401, 'unauthorized');
  });
});
