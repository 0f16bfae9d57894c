import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kernelLineProblems, kernelLineTokens } from '../../shared/domain/kernel-args';
import { aMachine } from '../helpers/fixtures';
import { expectProblem } from '../helpers/problem';
import { postProfile, profileForm, randomFile } from '../helpers/profiles';
import { request, useLocalStack } from '../helpers/stack';
import { bootBios, bootBiosChain, bootUefi, prepareE2eAssets, type BootResult } from './qemu';

/**
 * Issue 11: kernel arguments are written onto the iPXE `kernel` line, so each must be one
 * literal token there (shared/domain/kernel-args.ts). (a) every way to smuggle iPXE syntax
 * in is refused at upload; (b) arguments holding characters iPXE treats specially only as
 * whole tokens (`;` inside `ds=nocloud;s=...`, a leading `-`, `--`) boot real iPXE and reach
 * /proc/cmdline intact; (c) the hole the old rule left is real: a lone `;` on the kernel line
 * makes iPXE run what follows as commands and drop it from the kernel's command line.
 * Boots are skipped with a reason where QEMU cannot run; in CI a skip is a failure.
 */
const prepared = prepareE2eAssets();
if (!prepared.ok) {
  const message = `iPXE kernel-argument boots skipped: ${prepared.reason}`;
  if (process.env.CI) throw new Error(`${message} (CI must run them)`);
  process.stdout.write(`\n${message}\n`);
}

const stack = useLocalStack({ ASSET_DELIVERY: 'proxy' });
const token = randomBytes(4).toString('hex');

/** Injection attempts: [what, kernel_args, field named in invalid_fields, reason]. */
const injections: [string, string[], string, RegExp][] = [
  ['a lone ; then a command', ['console=ttyS0', ';', 'echo', 'INJECTED'], 'kernel_args[1]', /command separator/],
  ['a lone ; at the end', ['quiet', ';'], 'kernel_args[1]', /command separator/],
  ['|| then a command', ['quiet', '||', 'shell'], 'kernel_args[1]', /command separator/],
  ['&& then a command', ['&&', 'reboot'], 'kernel_args[0]', /command separator/],
  ['| inside a token', ['x||y'], 'kernel_args[0]', /no & or \|/],
  ['& inside a token', ['a&&b'], 'kernel_args[0]', /no & or \|/],
  ['${net0/mac} expansion', ['mac=${net0/mac}'], 'kernel_args[0]', /no \$/],
  ['${root-path} expansion', ['${root-path}'], 'kernel_args[0]', /no \$/],
  ['a lone $', ['$'], 'kernel_args[0]', /no \$/],
  ['$(...)', ['$(reboot)'], 'kernel_args[0]', /no \$/],
  ['# comment token', ['quiet', '#', 'lost'], 'kernel_args[1]', /comment/],
  ['#comment', ['#comment'], 'kernel_args[0]', /comment/],
  ['# inside a token', ['a#b'], 'kernel_args[0]', /no #/],
  ['a newline', ['quiet\necho INJECTED'], 'kernel_args[0]', /no whitespace/],
  ['a carriage return', ['quiet\r'], 'kernel_args[0]', /no whitespace/],
  ['a space', ['a b'], 'kernel_args[0]', /no whitespace/],
  ['a tab', ['a\tb'], 'kernel_args[0]', /no whitespace/],
  ['a vertical tab', ['a\vb'], 'kernel_args[0]', /no whitespace/],
  ['a form feed', ['a\fb'], 'kernel_args[0]', /no whitespace/],
  ['a NUL', ['quiet\u0000echo'], 'kernel_args[0]', /no control characters/],
  ['an escape character', ['\u001b[2J'], 'kernel_args[0]', /no control characters/],
  ['double quotes', ['a="b'], 'kernel_args[0]', /no quotes/],
  ['single quotes', ["'x'"], 'kernel_args[0]', /no quotes/],
  ['backticks', ['`reboot`'], 'kernel_args[0]', /no quotes/],
  ['a backslash', ['a\\nb'], 'kernel_args[0]', /no backslashes/],
  ['a trailing backslash (line continuation)', ['quiet\\'], 'kernel_args[0]', /no backslashes/],
  ['non-ASCII', ['caf\u00e9'], 'kernel_args[0]', /only ASCII/],
  ['a Unicode line separator', ['a\u2028b'], 'kernel_args[0]', /only ASCII/],
  ['a second initrd', ['initrd=http://evil.example/initrd'], 'kernel_args[0]', /set by the service/],
  ['an empty argument', [''], 'kernel_args[0]', /must not be empty/],
  // 2034 characters of arguments: within 2048 alone, 2049 with the service's "initrd=initrd ".
  ['a line over 2048 with initrd=initrd', ['a'.repeat(256), 'b'.repeat(256), 'c'.repeat(256), 'd'.repeat(256), 'e'.repeat(256), 'f'.repeat(256), 'g'.repeat(256), 'h'.repeat(236)], 'kernel_args', /at most 2048 characters; it would be 2049/],
];

describe('kernel arguments that iPXE would read as syntax are refused at upload', () => {
  let machineId = '';
  beforeAll(async () => {
    const machine = await request<{ id: string }>(stack.url, 'POST', '/api/v1/machines', { json: aMachine() });
    expect(machine.status).toBe(201);
    machineId = machine.body.id;
  });

  it.each(injections)('422 invalid-kernel-args: %s', async (_what, args, field, reason) => {
    const res = await postProfile(stack.url, profileForm({ machine_id: machineId, kernel: randomFile(64), initrd: randomFile(64), kernel_args: JSON.stringify(args) }));
    const body = expectProblem(res, 422, 'invalid-kernel-args');
    expect(body.field).toBe('kernel_args');
    expect(body.invalid_fields).toEqual([{ field, reason: expect.stringMatching(reason) }]);
  });

  it('every offending argument is named, each with its reason', async () => {
    const args = ['console=ttyS0', ';', 'echo', 'INJECTED', ';', 'x${y}'];
    const res = await postProfile(stack.url, profileForm({ machine_id: machineId, kernel: randomFile(64), initrd: randomFile(64), kernel_args: JSON.stringify(args) }));
    expect(expectProblem(res, 422, 'invalid-kernel-args').invalid_fields).toEqual([
      { field: 'kernel_args[1]', reason: expect.stringMatching(/command separator/) },
      { field: 'kernel_args[4]', reason: expect.stringMatching(/command separator/) },
      { field: 'kernel_args[5]', reason: expect.stringMatching(/no \$/) },
    ]);
  });

  it('none of them left a profile behind', async () => {
    expect((await request(stack.url, 'GET', `/api/v1/boot/${machineId}/profile`)).status).toBe(404);
  });
});

/**
 * Literal arguments holding what iPXE reads specially only as a whole token. Arguments after
 * `--` go to init rather than the kernel, but /proc/cmdline shows the whole line.
 */
const literalArgs = [
  'console=ttyS0',
  'panic=-1',
  `netboot.e2e=${token}`,
  'ds=nocloud;s=http://10.0.2.2/x/',
  'a;b',
  ';x',
  'x;',
  ';;',
  '-dash',
  '-n',
  '--name=x',
  'key=a:b,c',
  '{braces}',
  '(p)[q]<r>',
  '!?*^~%@+',
  '--',
  `after.dashdash=${token}`,
];
const macs = { bios: '52:54:00:e2:e1:01', uefi: '52:54:00:e2:e1:02' };
const expectedLine = kernelLineTokens(literalArgs).join(' ');
/**
 * The command line a boot really gets: the service also puts that boot's own
 * `netboot.token=...` (random per served script) right after `initrd=initrd`.
 */
const withoutBootToken = (line: string | null | undefined): string | undefined => line?.replace(/ netboot\.token=\S+/, '');

describe.skipIf(!prepared.ok)('real iPXE passes literal arguments through intact', () => {
  let biosScript = '';
  let scriptServer: Server | undefined;
  let injectedScript = '';

  beforeAll(async () => {
    if (!prepared.ok) return;
    expect(kernelLineProblems(kernelLineTokens(literalArgs))).toEqual([]);
    const kernel = readFileSync(prepared.assets.kernelPath);
    const initrd = readFileSync(prepared.assets.initrdPath);
    for (const mac of Object.values(macs)) {
      const machine = await request<{ id: string }>(stack.url, 'POST', '/api/v1/machines', { json: aMachine({ nics: [{ mac }] }) });
      expect(machine.status).toBe(201);
      const profile = await postProfile(stack.url, profileForm({ machine_id: machine.body.id, kernel, initrd, kernel_args: JSON.stringify(literalArgs) }));
      expect(profile.status).toBe(201);
      expect(profile.body.kernel.args).toEqual(literalArgs);
    }
    const script = await request(stack.url, 'GET', `/boot.ipxe?mac=${encodeURIComponent(macs.bios)}`);
    expect(withoutBootToken(script.text)).toContain(` ${expectedLine} && goto kernel_ok `);
    biosScript = script.text;

    // A throwaway server for (c): answers whatever script the test puts in injectedScript.
    scriptServer = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end(injectedScript));
    await new Promise<void>((resolve) => scriptServer?.listen(0, '127.0.0.1', resolve));
  });

  afterAll(async () => {
    await new Promise((resolve) => (scriptServer ? scriptServer.close(resolve) : resolve(undefined)));
  });

  const port = () => Number(new URL(stack.url).port);
  const report = (what: string, result: BootResult) => process.stdout.write(`  ${what}: ${(result.durationMs / 1000).toFixed(1)} s\n`);

  // The three boots run side by side (each QEMU has its own user-mode network), so their
  // times overlap instead of adding up (TCG alone: BIOS about 12 s, UEFI 20-30 s).
  it.concurrent('BIOS iPXE: /proc/cmdline is exactly initrd=initrd and the arguments as uploaded', async ({ expect }) => {
    const result = await bootBios({ port: port(), mac: macs.bios, timeoutMs: 150_000 });
    report('BIOS literal arguments', result);
    expect(result.marker, result.output.slice(-3000)).not.toBeNull();
    expect(result.cmdline).toMatch(/^initrd=initrd netboot\.token=\S+ /);
    expect(withoutBootToken(result.cmdline)).toBe(expectedLine);
  }, 180_000);

  it.concurrent('UEFI iPXE: the same arguments arrive intact (after the image name the EFI stub sees)', async ({ expect }) => {
    const result = await bootUefi({ port: port(), mac: macs.uefi, timeoutMs: 150_000 });
    report('UEFI literal arguments', result);
    expect(result.marker, result.output.slice(-3000)).not.toBeNull();
    const cmdline = withoutBootToken(result.cmdline);
    expect(cmdline === expectedLine || cmdline === `kernel ${expectedLine}`, result.cmdline ?? '').toBe(true);
  }, 180_000);

  it.concurrent('the old hole is real: a lone ; on the kernel line runs what follows as iPXE commands', async ({ expect }) => {
    // Arguments the old pattern accepted (every character was allowed), written as the renderer
    // writes them; the render-time check refuses them.
    const stored = ['console=ttyS0', 'panic=-1', `before.inject=${token}`, ';', 'echo', 'INJECTED-BY-IPXE', token, ';', 'echo', `after.inject=${token}`];
    expect(stored.every((a) => /^[A-Za-z0-9_.,:;=/+@%~^*!?()[\]{}<>-]+$/.test(a))).toBe(true);
    expect(kernelLineProblems(kernelLineTokens(stored)).map((p) => p.index)).toEqual([4, 8]);
    // The script the old renderer wrote (one line per download), with this profile's asset
    // URLs made absolute, since this script comes from another server.
    const absolute = (ref: string) => new URL(ref, `http://10.0.2.2:${port()}/boot.ipxe`).href;
    const kernelUrl = /^kernel (\S+) /m.exec(biosScript)?.[1] as string;
    const initrdUrl = /^initrd --name initrd (\S+)/m.exec(biosScript)?.[1] as string;
    injectedScript = ['#!ipxe', `kernel ${absolute(kernelUrl)} ${kernelLineTokens(stored).join(' ')}`, `initrd --name initrd ${absolute(initrdUrl)}`, 'boot', ''].join('\n');
    expect(injectedScript.split(` ${absolute('/asset/')}`)).toHaveLength(3); // kernel and initrd lines
    const address = scriptServer?.address() as AddressInfo;
    const result = await bootBiosChain({ url: `http://10.0.2.2:${address.port}/injected.ipxe`, mac: macs.bios, timeoutMs: 150_000 });
    report('BIOS injection demonstration', result);
    expect(result.marker, result.output.slice(-3000)).not.toBeNull();
    // iPXE's echo joined its two arguments: the tokens after ";" ran as a command...
    expect(result.output).toContain(`INJECTED-BY-IPXE ${token}`);
    expect(result.output).toContain(`after.inject=${token}`);
    // ...before the kernel started, and the kernel never saw them.
    expect(result.output.indexOf(`INJECTED-BY-IPXE ${token}`)).toBeLessThan(result.output.indexOf('NETBOOT-E2E-MARKER'));
    expect(result.cmdline).toBe(`initrd=initrd console=ttyS0 panic=-1 before.inject=${token}`);
  }, 180_000);
});
