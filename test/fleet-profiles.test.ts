import http from 'node:http';
import { describe, expect, it } from 'vitest';
import { aMac, aMachine } from './helpers/fixtures';
import { postProfile, profileForm, randomFile, sha256 } from './helpers/profiles';
import { request, useLocalStack } from './helpers/stack';
import { expectProblem } from './helpers/problem';
import { commands } from './helpers/scripts';

const stack = useLocalStack();
const api = <T = Record<string, unknown>>(method: string, path: string, init?: Parameters<typeof request>[3]) => request<T>(stack.url, method, path, init);

const kernel = randomFile(4096);
const initrd = randomFile(4096);

/** A machine with `hostname` (or none) and a profile with these arguments; its MAC and id. */
async function machineWith(args: string[], extra: Record<string, unknown> = {}): Promise<{ id: string; mac: string }> {
  const mac = aMac();
  const created = await api<{ id: string }>('POST', '/api/v1/machines', { json: aMachine({ nics: [{ mac }], ...extra }) });
  expect(created.status).toBe(201);
  const res = await postProfile(stack.url, profileForm({ machine_id: created.body.id, kernel, initrd, kernel_args: JSON.stringify(args) }));
  expect(res.status).toBe(201);
  return { id: created.body.id, mac };
}

/** The kernel line after the URI, as a machine would get it (token removed). */
async function kernelArgsServed(mac: string, query = ''): Promise<string[]> {
  const res = await api('GET', `/boot.ipxe?mac=${encodeURIComponent(mac)}${query}`);
  expect(res.status).toBe(200);
  const [line] = commands(res.text, 'kernel');
  return (line as string).split(' ').slice(2).filter((t) => !t.startsWith('netboot.token='));
}

/** /boot.ipxe with headers fetch() will not send (Host, X-Forwarded-Proto). */
function rawBoot(mac: string, headers: Record<string, string>): Promise<{ status: number; text: string; type: string | undefined }> {
  const url = new URL(`/boot.ipxe?mac=${encodeURIComponent(mac)}`, stack.url);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: url.hostname, port: url.port, path: url.pathname + url.search, headers, setHost: !('host' in headers) }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text, type: res.headers['content-type'] }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('templated kernel arguments', () => {
  it('renders {{base_url}}, {{mac}}, {{machine_id}}, {{hostname}}, {{arch}}, {{platform}} when the script is served', async () => {
    const { id, mac } = await machineWith(
      ['console=ttyS0', 'ds=nocloud;s={{base_url}}/metadata/{{mac}}/', 'netboot.id={{machine_id}}', 'hostname={{hostname}}', 'netboot.fw={{arch}}-{{platform}}'],
      { hostname: 'node-01.rack3.example' },
    );
    const base = new URL(stack.url);
    expect(await kernelArgsServed(mac, '&arch=x86_64&platform=efi')).toEqual([
      'initrd=initrd',
      'console=ttyS0',
      `ds=nocloud;s=http://${base.host}/metadata/${mac}/`,
      `netboot.id=${id}`,
      'hostname=node-01.rack3.example',
      'netboot.fw=x86_64-efi',
    ]);
    // Without arch and platform they render empty (a chain line that does not send them).
    expect((await kernelArgsServed(mac)).at(-1)).toBe('netboot.fw=-');
    // The stored profile keeps the template.
    const stored = await api<{ kernel: { args: string[] } }>('GET', `/api/v1/boot/${id}/profile`);
    expect(stored.body.kernel.args[1]).toBe('ds=nocloud;s={{base_url}}/metadata/{{mac}}/');
  });

  it('{{mac}} is the MAC that booted, canonical, on a machine with several NICs', async () => {
    const other = aMac();
    const { mac } = await machineWith(['m={{mac}}'], { nics: [{ mac: aMac() }, { mac: other.toUpperCase() }] });
    void mac;
    expect(await kernelArgsServed(other.toUpperCase().replaceAll(':', '-'))).toEqual(['initrd=initrd', `m=${other}`]);
  });

  it('{{hostname}} falls back to the machine id; PATCH and PUT change it, null removes it', async () => {
    const { id, mac } = await machineWith(['hostname={{hostname}}']);
    expect(await kernelArgsServed(mac)).toEqual(['initrd=initrd', `hostname=${id}`]);
    const patched = await api('PATCH', `/api/v1/machines/${id}`, { body: JSON.stringify({ hostname: 'web-7' }), headers: { 'content-type': 'application/merge-patch+json' } });
    expect(patched.status).toBe(200);
    expect(patched.body.hostname).toBe('web-7');
    expect((await api('GET', `/api/v1/machines/${id}`)).body.hostname).toBe('web-7');
    expect(await kernelArgsServed(mac)).toEqual(['initrd=initrd', 'hostname=web-7']);
    const put = await api('PUT', `/api/v1/machines/${id}`, { json: aMachine({ nics: [{ mac }], hostname: 'db-1' }) });
    expect(put.status).toBe(200);
    expect(await kernelArgsServed(mac)).toEqual(['initrd=initrd', 'hostname=db-1']);
    const removed = await api('PATCH', `/api/v1/machines/${id}`, { body: JSON.stringify({ hostname: null }), headers: { 'content-type': 'application/merge-patch+json' } });
    expect(removed.status).toBe(200);
    expect(removed.body).not.toHaveProperty('hostname');
    expect((await api('GET', `/api/v1/machines/${id}`)).body).not.toHaveProperty('hostname');
    expect(await kernelArgsServed(mac)).toEqual(['initrd=initrd', `hostname=${id}`]);
  });

  it.each([['-lead'], ['trail-'], ['a'.repeat(64)], ['under_score'], ['with space'], ['x;reboot'], ['${net0/ip}'], ['a..b'], [''], [7]])('a machine hostname %j is 400 validation-error', async (hostname) => {
    const res = await api('POST', '/api/v1/machines', { json: aMachine({ hostname }) });
    const body = expectProblem(res, 400, 'validation-error');
    expect(JSON.stringify(body)).toContain('hostname');
  });

  it.each([['s={{nope}}'], ['{{ mac }}'], ['a={{mac}'], ['{{mac}}}}'], ['{{}}']])('%j is 422 invalid-kernel-args, in the multipart form and in an upload session', async (arg) => {
    const machine = await api<{ id: string }>('POST', '/api/v1/machines', { json: aMachine() });
    const multipart = await postProfile(stack.url, profileForm({ machine_id: machine.body.id, kernel, initrd, kernel_args: JSON.stringify(['quiet', arg]) }));
    const body = expectProblem(multipart, 422, 'invalid-kernel-args');
    expect(JSON.stringify(body.invalid_fields)).toMatch(/placeholder/);
    const session = await api('POST', '/api/v1/uploads', {
      json: { machine_id: machine.body.id, mode: 'create', kernel_args: [arg], kernel: { size: kernel.length, sha256: sha256(kernel) }, initrd: { size: initrd.length, sha256: sha256(initrd) } },
    });
    expectProblem(session, 422, 'invalid-kernel-args');
  });

  it('a template whose literal part breaks an iPXE rule is refused at upload', async () => {
    const machine = await api<{ id: string }>('POST', '/api/v1/machines', { json: aMachine() });
    for (const arg of ['{{mac}}${x}', '#{{mac}}', '{{mac}}"', 'a={{mac}}&&b']) {
      expectProblem(await postProfile(stack.url, profileForm({ machine_id: machine.body.id, kernel, initrd, kernel_args: JSON.stringify([arg]) })), 422, 'invalid-kernel-args');
    }
  });

  it('upload sessions accept templated arguments', async () => {
    const machine = await api<{ id: string }>('POST', '/api/v1/machines', { json: aMachine() });
    const session = await api('POST', '/api/v1/uploads', {
      json: { machine_id: machine.body.id, mode: 'create', kernel_args: ['ds=nocloud;s={{base_url}}/metadata/{{mac}}/'], kernel: { size: kernel.length, sha256: sha256(kernel) }, initrd: { size: initrd.length, sha256: sha256(initrd) } },
    });
    expect(session.status).toBe(201);
    expect(session.body.kernel_args).toEqual(['ds=nocloud;s={{base_url}}/metadata/{{mac}}/']);
  });

  it('{{base_url}} follows the Host header and the forwarded scheme, validated strictly', async () => {
    const { mac } = await machineWith(['s={{base_url}}/seed/']);
    const line = (text: string) => commands(text, 'kernel')[0]?.split(' ').slice(2).filter((t) => !t.startsWith('netboot.token='));
    const https = await rawBoot(mac, { host: 'Boot.Example.COM:8443', 'x-forwarded-proto': 'https' });
    expect(https.status).toBe(200);
    expect(line(https.text)).toEqual(['initrd=initrd', 's=https://boot.example.com:8443/seed/']);
    const v6 = await rawBoot(mac, { host: '[fd00::1]:8080' });
    expect(line(v6.text)).toEqual(['initrd=initrd', 's=http://[fd00::1]:8080/seed/']);
    // Anything else: no script (the spec's 500), never a kernel line carrying it.
    const refused: Record<string, string>[] = [
      { host: 'evil${net0/ip}' },
      { host: 'a;b' },
      { host: 'x.example:99999' },
      { host: 'x.example:0' },
      { host: 'user@x.example' },
      { host: '[zz::1]' },
      { host: 'boot.example', 'x-forwarded-proto': 'gopher' },
      { host: 'boot.example', 'x-forwarded-proto': 'https;reboot' },
    ];
    for (const headers of refused) {
      const res = await rawBoot(mac, headers);
      expect(res.status, JSON.stringify(headers)).toBe(500);
      expect(res.type).toBe('application/problem+json');
      expect(res.text).not.toContain('#!ipxe');
      expect(JSON.parse(res.text)).toMatchObject({ type: 'https://api.example.com/errors/internal-error', status: 500 });
    }
  });

  it('a profile without {{base_url}} does not care about the Host header', async () => {
    const { mac } = await machineWith(['quiet']);
    expect((await rawBoot(mac, { host: 'evil;x' })).status).toBe(200);
  });

  it('the rendered argument must fit 256 characters: no script when it does not', async () => {
    const arg = `s=${'{{base_url}}'.repeat(20)}`; // 242 characters stored, about 460 rendered
    const { mac } = await machineWith([arg]);
    const res = await api('GET', `/boot.ipxe?mac=${mac}`);
    expectProblem(res, 500, 'internal-error');
  });

  it('the rendered line must fit 2048 characters: no script when it does not', async () => {
    const args = Array.from({ length: 30 }, (_, i) => `${i}=${'{{base_url}}'.repeat(5)}`); // about 1900 stored, about 3400 rendered
    const { mac } = await machineWith(args);
    expectProblem(await api('GET', `/boot.ipxe?mac=${mac}`), 500, 'internal-error');
  });
});

describe('architecture', () => {
  it('i386, x86_64 and no arch boot the profile\'s images; another architecture gets a script that says so and reboots, no kernel', async () => {
    const { mac } = await machineWith(['quiet']);
    for (const query of ['', '&arch=i386&platform=pcbios', '&arch=x86_64&platform=efi']) {
      expect(await kernelArgsServed(mac, query)).toEqual(['initrd=initrd', 'quiet']);
    }
    const arm = await api('GET', `/boot.ipxe?mac=${mac}&arch=arm64&platform=efi`);
    expect(arm.status).toBe(200);
    expect(arm.text).toMatch(/^echo netboot: boot profile \S+ has no kernel for architecture arm64 \(it boots i386 \/ x86_64\): not booting$/m);
    expect(arm.text).not.toMatch(/^(kernel|initrd|imgfetch|chain|boot)\b/m);
    expect(arm.text.trimEnd().split('\n').slice(-3)).toEqual(['echo netboot: rebooting in 30 s', 'sleep 30', 'reboot']);
  });
});
