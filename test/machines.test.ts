import { describe, expect, it } from 'vitest';
import { aMac, aMachine } from './helpers/fixtures';
import { request, useLocalStack } from './helpers/stack';
import { expectProblem } from './helpers/problem';

const stack = useLocalStack();
const api = <T = Record<string, unknown>>(method: string, path: string, init?: Parameters<typeof request>[3]) => request<T>(stack.url, method, path, init);

const uuidV7 = /^[\da-f]{8}-[\da-f]{4}-7[\da-f]{3}-[89ab][\da-f]{3}-[\da-f]{12}$/;


async function createMachine(overrides: Record<string, unknown> = {}): Promise<{ id: string; body: Record<string, unknown> }> {
  const body = aMachine(overrides);
  const res = await api<{ id: string }>('POST', '/api/v1/machines', { json: body });
  expect(res.status).toBe(201);
  return { id: res.body.id, body };
}

describe('POST /api/v1/machines', () => {
  it('creates a machine and answers with its UUIDv7 id only', async () => {
    const body = aMachine({ nics: [{ mac: '52-54-00-AB-CD-01' }] });
    const res = await api('POST', '/api/v1/machines', { json: body });
    expect(res.status).toBe(201);
    expect(Object.keys(res.body)).toEqual(['id']);
    expect(res.body.id).toMatch(uuidV7);
    expect(res.headers.get('location')).toBe(`/api/v1/machines/${res.body.id}`);
    expect(res.headers.get('x-api-version')).toBe('v1');

    const got = await api('GET', `/api/v1/machines/${res.body.id}`);
    expect(got.status).toBe(200);
    expect(got.body).toEqual({ ...body, id: res.body.id, nics: [{ mac: '52:54:00:ab:cd:01' }], netboot: 'enabled' });
  });

  it('defaults omitted hardware lists to empty arrays', async () => {
    const mac = aMac();
    const res = await api<{ id: string }>('POST', '/api/v1/machines', { json: { nics: [{ mac }] } });
    expect(res.status).toBe(201);
    const got = await api('GET', `/api/v1/machines/${res.body.id}`);
    expect(got.body).toEqual({ id: res.body.id, cpus: [], memory_modules: [], accelerators: [], nics: [{ mac }], drives: [], netboot: 'enabled' });
  });

  it('rejects a MAC that another machine has with 409 and the existing id', async () => {
    const mac = aMac();
    const first = await createMachine({ nics: [{ mac }] });
    const res = await api('POST', '/api/v1/machines', { json: aMachine({ nics: [{ mac: mac.toUpperCase().replaceAll(':', '-') }] }) });
    expectProblem(res, 409, 'duplicate-mac-address');
    expect(res.body).toMatchObject({
      title: 'Duplicate MAC Address',
      detail: `A machine with MAC address ${mac} already exists`,
      instance: '/api/v1/machines',
      mac_address: mac,
      existing_machine_id: first.id,
    });
  });

  it('rejects a MAC repeated inside one request with 409 and writes nothing', async () => {
    const mac = aMac();
    const res = await api('POST', '/api/v1/machines', { json: aMachine({ nics: [{ mac }, { mac: mac.toUpperCase() }] }) });
    expectProblem(res, 409, 'duplicate-mac-address');
    expect(res.body.mac_address).toBe(mac);
    expect(res.body).not.toHaveProperty('existing_machine_id');
    const listed = await api<{ machines: unknown[] }>('GET', `/api/v1/machines?mac=${mac}`);
    expect(listed.body.machines).toEqual([]);
  });

  it('leaves no claim behind when a request is rejected: the MAC stays free', async () => {
    const taken = aMac();
    const free = aMac();
    await createMachine({ nics: [{ mac: taken }] });
    const rejected = await api('POST', '/api/v1/machines', { json: aMachine({ nics: [{ mac: free }, { mac: taken }] }) });
    expect(rejected.status).toBe(409);
    await createMachine({ nics: [{ mac: free }] });
  });

  const invalidBodies: { name: string; body: unknown; fields: { field: string; reason: string | RegExp }[] }[] = [
    { name: 'no nics', body: aMachine({ nics: [] }), fields: [{ field: 'nics', reason: 'at least one NIC is required' }] },
    { name: 'nics missing', body: { cpus: [] }, fields: [{ field: 'nics', reason: 'required field is missing' }] },
    { name: 'bad MAC', body: aMachine({ nics: [{ mac: 'zz:54:00:12:34:56' }] }), fields: [{ field: 'nics[0].mac', reason: /format aa:bb:cc:dd:ee:ff/ }] },
    { name: 'multicast MAC', body: aMachine({ nics: [{ mac: '01:00:5e:00:00:01' }] }), fields: [{ field: 'nics[0].mac', reason: /unicast/ }] },
    { name: 'all-zero MAC', body: aMachine({ nics: [{ mac: '00:00:00:00:00:00' }] }), fields: [{ field: 'nics[0].mac', reason: /00:00:00:00:00:00/ }] },
    { name: 'mixed separators', body: aMachine({ nics: [{ mac: '52:54-00:12:34:56' }] }), fields: [{ field: 'nics[0].mac', reason: /format/ }] },
    { name: 'cores not an integer', body: aMachine({ cpus: [{ manufacturer: 'AMD', clock_frequency: 1, cores: 1.5 }] }), fields: [{ field: 'cpus[0].cores', reason: 'must be an integer' }] },
    { name: 'size as string', body: aMachine({ memory_modules: [{ size: '16GB' }] }), fields: [{ field: 'memory_modules[0].size', reason: 'must be an integer' }] },
    { name: 'negative capacity', body: aMachine({ drives: [{ capacity: -1 }] }), fields: [{ field: 'drives[0].capacity', reason: 'must be at least 0' }] },
    { name: 'unknown top-level field', body: aMachine({ colour: 'blue' }), fields: [{ field: 'colour', reason: 'unknown field' }] },
    { name: 'unknown nested field', body: aMachine({ nics: [{ mac: aMac(), vlan: 3 }] }), fields: [{ field: 'nics[0].vlan', reason: 'unknown field' }] },
    { name: 'empty manufacturer', body: aMachine({ accelerators: [{ manufacturer: '' }] }), fields: [{ field: 'accelerators[0].manufacturer', reason: 'must not be empty' }] },
    { name: 'array body', body: [], fields: [{ field: '(body)', reason: 'must be a JSON object' }] },
    {
      name: 'several fields at once',
      body: { nics: [{ mac: 'nope' }], cpus: [{ manufacturer: 'Intel', clock_frequency: 'fast', cores: 0 }] },
      fields: [
        { field: 'cpus[0].clock_frequency', reason: 'must be an integer' },
        { field: 'cpus[0].cores', reason: 'must be at least 1' },
        { field: 'nics[0].mac', reason: /format/ },
      ],
    },
  ];

  it.each(invalidBodies)('400 validation-error listing every invalid field: $name', async ({ body, fields }) => {
    const res = await api('POST', '/api/v1/machines', { json: body });
    expectProblem(res, 400, 'validation-error');
    expect(res.body).toMatchObject({ title: 'Validation Error', detail: 'The request body failed validation', instance: '/api/v1/machines' });
    const got = res.body.invalid_fields as { field: string; reason: string }[];
    expect(got).toHaveLength(fields.length);
    for (const want of fields) {
      expect(got).toContainEqual({ field: want.field, reason: expect.stringMatching(want.reason) });
    }
  });

  it('400 invalid-json for a malformed JSON body', async () => {
    const res = await api('POST', '/api/v1/machines', { body: '{"nics": [', headers: { 'content-type': 'application/json' } });
    expectProblem(res, 400, 'invalid-json');
    expect(res.headers.get('x-api-version')).toBe('v1');
  });

  it.each([
    ['text/plain', 'hello'],
    ['application/x-www-form-urlencoded', 'nics=1'],
    ['application/octet-stream', 'abc'],
  ])('415 for a %s body', async (contentType, body) => {
    const res = await api('POST', '/api/v1/machines', { body, headers: { 'content-type': contentType } });
    expectProblem(res, 415, 'unsupported-media-type');
  });
});

describe('GET /api/v1/machines', () => {
  it('filters by MAC in any accepted form, URL-encoded', async () => {
    const mac = aMac();
    const { id } = await createMachine({ nics: [{ mac: aMac() }, { mac }] });
    for (const form of [mac, mac.toUpperCase(), mac.replaceAll(':', '-'), encodeURIComponent(mac)]) {
      const res = await api<{ machines: { id: string }[]; pagination: unknown }>('GET', `/api/v1/machines?mac=${form}`);
      expect(res.status).toBe(200);
      expect(res.body.machines.map((m) => m.id)).toEqual([id]);
      expect(res.body.pagination).toEqual({ total: 1, page: 1, per_page: 20, total_pages: 1 });
    }
  });

  it('an unknown MAC gives an empty page', async () => {
    const res = await api('GET', `/api/v1/machines?mac=${aMac()}`);
    expect(res.body).toEqual({ machines: [], pagination: { total: 0, page: 1, per_page: 20, total_pages: 0 } });
  });

  it.each([
    ['page=0', 'page', 'must be at least 1'],
    ['page=abc', 'page', 'must be a whole number'],
    ['per_page=101', 'per_page', 'must be at most 100'],
    ['per_page=0', 'per_page', 'must be at least 1'],
    ['per_page=-5', 'per_page', 'must be a whole number'],
    ['page=1&page=2', 'page', 'must be given once'],
    ['mac=not-a-mac', 'mac', 'MAC address must be in format aa:bb:cc:dd:ee:ff'],
    ['colour=blue', 'colour', 'unknown field'],
  ])('400 for ?%s', async (query, field, reason) => {
    const res = await api('GET', `/api/v1/machines?${query}`);
    expectProblem(res, 400, 'validation-error');
    expect(res.body.invalid_fields).toEqual([{ field, reason }]);
  });
});

describe('GET /api/v1/machines/{id}', () => {
  it('404 machine-not-found with the spec body', async () => {
    const id = '018c7dbd-c000-7000-8000-fedcba987654';
    const res = await api('GET', `/api/v1/machines/${id}`);
    expectProblem(res, 404, 'machine-not-found');
    expect(res.body).toMatchObject({
      title: 'Machine Not Found',
      detail: `Machine with ID ${id} not found`,
      instance: `/api/v1/machines/${id}`,
      machine_id: id,
    });
  });

  it.each(['not-a-uuid', '018c7dbd-c000-4000-8000-fedcba987654', '..%2F..%2Fetc', "1' OR '1'='1"])('400 for a path id that is not a UUIDv7: %s', async (id) => {
    const res = await api('GET', `/api/v1/machines/${encodeURIComponent(id)}`);
    expectProblem(res, 400, 'validation-error');
    expect(res.body.invalid_fields).toEqual([{ field: 'id', reason: 'must be a UUIDv7' }]);
  });
});

describe('PUT /api/v1/machines/{id}', () => {
  it('replaces the profile and answers with the full machine', async () => {
    const { id } = await createMachine();
    const replacement = aMachine({ cpus: [{ manufacturer: 'AMD', clock_frequency: 3000000000, cores: 64 }], accelerators: [{ manufacturer: 'NVIDIA' }] });
    const res = await api('PUT', `/api/v1/machines/${id}`, { json: replacement });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ ...replacement, id, netboot: 'enabled' });
    expect((await api('GET', `/api/v1/machines/${id}`)).body).toEqual({ ...replacement, id, netboot: 'enabled' });
  });

  it('releases the MACs it drops and claims the new ones', async () => {
    const oldMac = aMac();
    const newMac = aMac();
    const { id } = await createMachine({ nics: [{ mac: oldMac }] });
    expect((await api('PUT', `/api/v1/machines/${id}`, { json: aMachine({ nics: [{ mac: newMac }] }) })).status).toBe(200);
    expect((await api<{ machines: unknown[] }>('GET', `/api/v1/machines?mac=${oldMac}`)).body.machines).toEqual([]);
    await createMachine({ nics: [{ mac: oldMac }] });
    const taken = await api('POST', '/api/v1/machines', { json: aMachine({ nics: [{ mac: newMac }] }) });
    expect(taken.body.existing_machine_id).toBe(id);
  });

  it('keeps its own MACs without conflict', async () => {
    const mac = aMac();
    const { id } = await createMachine({ nics: [{ mac }] });
    const res = await api('PUT', `/api/v1/machines/${id}`, { json: aMachine({ nics: [{ mac }, { mac: aMac() }] }) });
    expect(res.status).toBe(200);
  });

  it('409 when taking another machine’s MAC, and the machine is unchanged', async () => {
    const mac = aMac();
    const other = await createMachine({ nics: [{ mac }] });
    const mine = await createMachine();
    const res = await api('PUT', `/api/v1/machines/${mine.id}`, { json: aMachine({ nics: [{ mac }] }) });
    expectProblem(res, 409, 'duplicate-mac-address');
    expect(res.body).toMatchObject({ mac_address: mac, existing_machine_id: other.id, instance: `/api/v1/machines/${mine.id}` });
    expect((await api('GET', `/api/v1/machines/${mine.id}`)).body).toEqual({ ...mine.body, id: mine.id, netboot: 'enabled' });
  });

  it('400 with invalid_fields for an invalid body', async () => {
    const { id } = await createMachine();
    const res = await api('PUT', `/api/v1/machines/${id}`, { json: aMachine({ nics: [] }) });
    expectProblem(res, 400, 'validation-error');
    expect(res.body).toMatchObject({ instance: `/api/v1/machines/${id}`, invalid_fields: [{ field: 'nics', reason: 'at least one NIC is required' }] });
  });

  it('404 for an unknown machine', async () => {
    const id = '018c7dbd-c000-7000-8000-fedcba987654';
    const res = await api('PUT', `/api/v1/machines/${id}`, { json: aMachine() });
    expectProblem(res, 404, 'machine-not-found');
    expect(res.body.machine_id).toBe(id);
  });
});

describe('DELETE /api/v1/machines/{id}', () => {
  it('204 with an empty body, then 404, and its MACs are free again', async () => {
    const mac = aMac();
    const { id } = await createMachine({ nics: [{ mac }] });
    const res = await api('DELETE', `/api/v1/machines/${id}`);
    expect(res.status).toBe(204);
    expect(res.text).toBe('');
    expectProblem(await api('GET', `/api/v1/machines/${id}`), 404, 'machine-not-found');
    expectProblem(await api('DELETE', `/api/v1/machines/${id}`), 404, 'machine-not-found');
    await createMachine({ nics: [{ mac }] });
  });
});

describe('routing, headers and request ids', () => {
  it.each([
    ['GET', '/api/v1/nothing-here', 404, 'not-found'],
    ['GET', '/api/v1/machines/', 404, 'not-found'],
    ['PATCH', '/api/v1/machines', 405, 'method-not-allowed'],
    ['DELETE', '/api/v1/machines', 405, 'method-not-allowed'],
    ['POST', '/api/v1/machines/018c7dbd-c000-7000-8000-fedcba987654', 405, 'method-not-allowed'],
  ])('%s %s -> %i', async (method, path, status, slug) => {
    const res = await api(method, path);
    expectProblem(res, status, slug);
  });

  it('405 lists the allowed methods', async () => {
    expect((await api('PATCH', '/api/v1/machines')).headers.get('allow')).toBe('POST, GET');
    expect((await api('POST', '/api/v1/machines/018c7dbd-c000-7000-8000-fedcba987654')).headers.get('allow')).toBe('GET, PUT, DELETE, PATCH');
  });

  it('echoes a well-formed X-Request-Id and replaces a malformed one', async () => {
    const kept = await api('GET', '/api/v1/machines', { headers: { 'x-request-id': 'abc-123.trace:1' } });
    expect(kept.headers.get('x-request-id')).toBe('abc-123.trace:1');
    const replaced = await api('GET', '/api/v1/machines', { headers: { 'x-request-id': 'bad id with spaces' } });
    expect(replaced.headers.get('x-request-id')).toMatch(uuidV7);
    const problem = await api('GET', '/api/v1/machines/nope', { headers: { 'x-request-id': 'req-42' } });
    expect(problem.body.request_id).toBe('req-42');
  });

  it('never leaks internals in a problem body', async () => {
    const res = await api('POST', '/api/v1/machines', { body: '{bad', headers: { 'content-type': 'application/json' } });
    expect(res.text).not.toMatch(/at .*\.(js|ts):\d+|SyntaxError|node_modules/);
  });
});
