import { describe, expect, it } from 'vitest';
import {
  UnsafeKernelLine,
  assertKernelLineSafe,
  kernelArgLimits,
  kernelArgProblem,
  kernelArgsSchema,
  kernelLineLength,
  kernelLineProblems,
  kernelLineTokens,
  serviceKernelArgs,
} from './kernel-args';
import { kernelArgsSchema as fromProfile } from './profile';

/** Arguments iPXE can only read as one literal token and Linux as one argument. */
const accepted: [string, string][] = [
  ['console=ttyS0,115200n8', 'the usual console argument'],
  ['ds=nocloud;s=http://10.0.0.1/seed/', "cloud-init's seed: ; inside a longer token is literal (command_terminator compares whole tokens)"],
  ['a;b', '; inside a token'],
  [';a', '; at the start of a longer token'],
  ['a;', '; at the end of a longer token'],
  [';;', 'two ; are not the terminator ";"'],
  ['-dash', 'getopt stopped at the URI: a leading - after it is literal'],
  ['--', 'literal for iPXE (Linux: the rest goes to init)'],
  ['-n', 'looks like the --name option, but comes after the URI'],
  ['--name=x', 'looks like a long option, but comes after the URI'],
  ['key=a:b,c', ': and , inside a value'],
  ['{braces}', 'braces without $ are not an expansion'],
  ['root=/dev/nfs', 'a path'],
  ['rd.luks.uuid=1234-abcd', 'dots and a dash'],
  ['x'.repeat(256), 'the longest argument'],
  ['<>()[]!?*^~%@+=/.,:_-', 'every other allowed punctuation character'],
];

/** Refused arguments and a piece of the reason each gets. */
const refused: [string, RegExp][] = [
  [';', /command separator/],
  ['||', /command separator/],
  ['&&', /command separator/],
  ['#', /comment/],
  ['#comment', /comment/],
  ['a#b', /no #/],
  ['${root-path}', /no \$/],
  ['${net0/mac}', /no \$/],
  ['x${a}y', /no \$/],
  ['$', /no \$/],
  ['a$b', /no \$/],
  ['$(reboot)', /no \$/],
  ['a|b', /no & or \|/],
  ['x||y', /no & or \|/],
  ['a&b', /no & or \|/],
  ['a b', /no whitespace/],
  ['console=ttyS0\nshell', /no whitespace/],
  ['quiet\r', /no whitespace/],
  ['tab\there', /no whitespace/],
  ['v\vt', /no whitespace/],
  ['f\ff', /no whitespace/],
  ['nul\u0000', /no control characters/],
  ['bell\u0007', /no control characters/],
  ['del\u007f', /no control characters/],
  ['quote"d', /no quotes/],
  ['"grouped', /no quotes/],
  ["'single'", /no quotes/],
  ['`reboot`', /no quotes/],
  ['back\\slash', /no backslashes/],
  ['trailing\\', /no backslashes/],
  ['caf\u00e9', /only ASCII/],
  ['nbsp\u00a0x', /only ASCII/],
  ['\u2028', /only ASCII/],
  ['', /must not be empty/],
  ['x'.repeat(257), /at most 256 characters/],
  ['initrd=/other.img', /set by the service/],
  ['initrd=initrd', /set by the service/],
];

describe('kernel arguments: one literal token each', () => {
  it.each(accepted)('accepts %j (%s)', (arg) => {
    expect(kernelArgProblem(arg)).toBeUndefined();
    expect(kernelArgsSchema.safeParse([arg]).success).toBe(true);
  });

  it.each(refused)('refuses %j: %s', (arg, reason) => {
    expect(kernelArgProblem(arg)).toMatch(reason);
    const parsed = kernelArgsSchema.safeParse(['console=ttyS0', arg]);
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues).toEqual([expect.objectContaining({ path: [1], message: expect.stringMatching(reason) })]);
  });

  it('profile.ts exports the same schema (multipart.ts uses that one)', () => {
    expect(fromProfile).toBe(kernelArgsSchema);
  });

  it('refuses what is not an array of strings', () => {
    for (const value of ['quiet', { a: 1 }, null, [1], ['quiet', null], [['quiet']]]) {
      expect(kernelArgsSchema.safeParse(value).success).toBe(false);
    }
  });

  it(`at most ${kernelArgLimits.count} arguments`, () => {
    expect(kernelArgsSchema.safeParse(Array.from({ length: 64 }, () => 'a')).success).toBe(true);
    const parsed = kernelArgsSchema.safeParse(Array.from({ length: 65 }, () => 'a'));
    expect(parsed.error?.issues.map((i) => i.message)).toContain('at most 64 arguments');
  });

  it('counts the service-added initrd=initrd in the 2048-character line', () => {
    const prefix = serviceKernelArgs.join(' ').length + 1; // "initrd=initrd "
    expect(prefix).toBe('initrd=initrd '.length);
    // 8 arguments of 256 and one filler: exactly 2048 with the prefix, then one more.
    const fits = [...Array.from({ length: 7 }, () => 'a'.repeat(256)), 'b'.repeat(2048 - prefix - 7 * 257)];
    expect(kernelLineLength(kernelLineTokens(fits))).toBe(2048);
    expect(kernelArgsSchema.safeParse(fits).success).toBe(true);
    const over = [...fits.slice(0, -1), `${fits.at(-1)}b`];
    const parsed = kernelArgsSchema.safeParse(over);
    expect(parsed.error?.issues.map((i) => i.message)).toEqual([expect.stringMatching(/at most 2048 characters; it would be 2049/)]);
    // The old rule counted only the arguments: 2034 characters of them passed it but do not fit now.
    expect(over.join(' ').length).toBeLessThan(2048);
  });
});

describe('the kernel line at render time', () => {
  it('the service puts initrd=initrd first, before anything an administrator gives (so -- cannot move it to init)', () => {
    expect(kernelLineTokens(['--', 'quiet'])).toEqual(['initrd=initrd', '--', 'quiet']);
  });

  it('a line of safe tokens, initrd=initrd included, passes', () => {
    const tokens = kernelLineTokens(['console=ttyS0', 'ds=nocloud;s=http://10.0.0.1/seed/']);
    expect(kernelLineProblems(tokens)).toEqual([]);
    expect(() => assertKernelLineSafe(tokens)).not.toThrow();
  });

  it('stored values that never passed the validator are caught (older data, another writer)', () => {
    const stored = ['console=ttyS0', ';', 'echo', 'INJECTED', ';', 'x${a}', 'ok\nshell'];
    const problems = kernelLineProblems(kernelLineTokens(stored));
    expect(problems.map((p) => p.index)).toEqual([2, 5, 6, 7]);
    expect(() => assertKernelLineSafe(kernelLineTokens(stored))).toThrow(UnsafeKernelLine);
    expect(() => assertKernelLineSafe(kernelLineTokens(stored))).toThrow(/argument 2: ";" on its own is an iPXE command separator/);
  });

  it('checks the whole line: length including initrd=initrd, and the token count', () => {
    const long = Array.from({ length: 9 }, () => 'a'.repeat(230)); // 2078, 2092 with the prefix
    expect(kernelLineProblems(kernelLineTokens(long))).toEqual([{ reason: expect.stringMatching(/at most 2048 characters; it would be 2092/) }]);
    const many = kernelLineTokens(Array.from({ length: 65 }, () => 'a'));
    expect(kernelLineProblems(many)).toEqual([{ reason: expect.stringMatching(/at most 65 tokens/) }]);
  });

  it('non-strings in stored data are problems, not crashes', () => {
    expect(kernelLineProblems(['initrd=initrd', 42 as unknown as string])).toEqual([{ index: 1, reason: 'each argument must be a string' }]);
  });
});
