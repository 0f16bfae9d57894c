import { describe, expect, it } from 'vitest';
import { aMac, aMachine } from './helpers/fixtures';
import { grpcStatus } from './helpers/faulty-grpc';
import { expectProblem } from './helpers/problem';
import { postProfile, profileForm, randomFile } from './helpers/profiles';
import { request, useLocalStackThroughProxy } from './helpers/stack';

/**
 * Issue 21: a `once` machine must be able to report the boot it is served, or it would
 * reinstall forever. When its boot record cannot be written it gets 503 + Retry-After (iPXE
 * waits and asks again), never an installer without a token. The boot records alone go
 * through a proxy that answers a Commit with an error.
 */
const through = useLocalStackThroughProxy({}, (parts, firestore) => ({ ...parts, clients: { ...parts.clients, firestore } }));
const { stack } = through;
const api = <T = Record<string, unknown>>(method: string, path: string, init?: Parameters<typeof request>[3]) => request<T>(stack.url, method, path, init);

async function machineWithProfile(netboot: string, args = '["console=ttyS0"]'): Promise<string> {
  const mac = aMac();
  const created = await api<{ id: string }>('POST', '/api/v1/machines', { json: aMachine({ nics: [{ mac }], netboot }) });
  expect(created.status).toBe(201);
  expect((await postProfile(stack.url, profileForm({ machine_id: created.body.id, kernel: randomFile(512), initrd: randomFile(512), kernel_args: args }))).status).toBe(201);
  return mac;
}

describe('a boot that cannot be recorded', () => {
  it('once: 503 with Retry-After, never an installer it cannot report; the next attempt boots with a token', async () => {
    const mac = await machineWithProfile('once');
    through.proxy.loseAnswers('Commit', grpcStatus.UNAVAILABLE, 5);
    const refused = expectProblem(await api('GET', `/boot.ipxe?mac=${mac}`), 503, 'service-unavailable');
    expect(refused.retry_after).toBe(5);
    through.proxy.loseAnswers('Commit', grpcStatus.UNAVAILABLE, 0);
    const served = await api('GET', `/boot.ipxe?mac=${mac}`);
    expect(served.status).toBe(200);
    expect(served.text).toMatch(/\/boot\/report\?token=/);
  });

  it('a profile that hands out {{metadata_url}}: 503 too (no seed without its record)', async () => {
    const mac = await machineWithProfile('enabled', '["ds=nocloud;s={{metadata_url}}"]');
    through.proxy.loseAnswers('Commit', grpcStatus.UNAVAILABLE, 5);
    expectProblem(await api('GET', `/boot.ipxe?mac=${mac}`), 503, 'service-unavailable');
    through.proxy.loseAnswers('Commit', grpcStatus.UNAVAILABLE, 0);
  });

  it('enabled, no secrets: served without a token, as before (booting matters more than the timeline)', async () => {
    const mac = await machineWithProfile('enabled');
    through.proxy.loseAnswers('Commit', grpcStatus.UNAVAILABLE, 5);
    const served = await api('GET', `/boot.ipxe?mac=${mac}`);
    through.proxy.loseAnswers('Commit', grpcStatus.UNAVAILABLE, 0);
    expect(served.status).toBe(200);
    expect(served.text).not.toMatch(/\/boot\/report\?token=/);
  });
});
