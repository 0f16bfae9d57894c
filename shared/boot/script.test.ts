import { describe, expect, it } from 'vitest';
import { UnsafeKernelLine } from '../domain/kernel-args';
import type { BootProfile } from '../domain/profile';
import { renderIpxeScript } from './script';

const profile = (args: string[], initrdSize = 1): BootProfile => ({
  id: '01a225fe-4a33-7b92-8660-b252b6360bdc',
  machine_id: '01a225fe-4a34-7eef-bfea-0db9b0f1578b',
  kernel: { id: '01a225fe-44b7-7558-acda-e9fce05d3b21', args, sha256: 'a'.repeat(64), size: 1 },
  initrd: { id: '01a225fe-44ba-7b92-b289-5d55b15a3256', sha256: 'b'.repeat(64), size: initrdSize },
});
const render = (args: string[]) => renderIpxeScript({ machineId: 'm', mac: '52:54:00:12:34:56', profile: profile(args), generatedAt: new Date(0) });

describe('renderIpxeScript checks the kernel line again, whatever was stored', () => {
  it('writes safe arguments as they are', () => {
    expect(render(['ds=nocloud;s=http://10.0.0.1/seed/', 'quiet'])).toContain('initrd=initrd ds=nocloud;s=http://10.0.0.1/seed/ quiet && goto kernel_ok ');
  });

  it.each([[[';', 'chain', 'http://evil/x']], [['a', '||', 'shell']], [['${net0/ip}']], [['a\nshell']], [['#']]])('refuses stored %j: no script at all', (args) => {
    expect(() => render(args)).toThrow(UnsafeKernelLine);
  });
});

describe('renderIpxeScript lists a large initrd as parts in proxy mode', () => {
  const MiB = 1024 * 1024;
  const withParts = (args: string[], size: number, partBytes: number | undefined) =>
    renderIpxeScript({ machineId: 'm', mac: '52:54:00:12:34:56', profile: profile(args, size), generatedAt: new Date(0), partBytes });

  it('one part: the script is the same as without parts', () => {
    expect(withParts(['quiet'], 8 * MiB, 8 * MiB)).toBe(withParts(['quiet'], 8 * MiB, undefined));
  });

  it('names every part on the kernel line, first, in order', () => {
    const script = withParts(['--', 'quiet'], 8 * MiB + 1, 8 * MiB);
    expect(script).toContain('initrd=initrd initrd=initrd1 -- quiet && goto kernel_ok ');
    expect(script).toContain('initrd --name initrd /asset/01a225fe-4a33-7b92-8660-b252b6360bdc/initrd?v=01a225fe-44ba-7b92-b289-5d55b15a3256&part=0 && goto initrd0_ok ');
    expect(script).toContain('initrd --name initrd1 /asset/01a225fe-4a33-7b92-8660-b252b6360bdc/initrd?v=01a225fe-44ba-7b92-b289-5d55b15a3256&part=1 && goto initrd1_ok ');
    expect(script).toContain('\nboot || goto boot_failed\n');
  });

  it('counts the part names in the 2048-character kernel line', () => {
    // 1 GiB in 8 MiB parts: 128 names, about 2000 characters on their own.
    expect(() => withParts(['quiet'], 1024 * MiB, 8 * MiB)).toThrow(/initrd part names would be \d+ characters, over 2048/);
    // 150 MiB: 19 names fit beside 1000 characters of arguments.
    expect(withParts(['a'.repeat(250), 'b'.repeat(250), 'c'.repeat(250), 'd'.repeat(247)], 150 * MiB, 8 * MiB)).toContain('initrd=initrd18 a');
  });
});
