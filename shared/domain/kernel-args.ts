import { z } from 'zod';

/**
 * What iPXE can only read as a literal kernel argument: the one place that decides which
 * strings may follow the URI on the script's `kernel` line. Used on upload (the
 * `kernel_args` schema) and again at render time on every token the script writes after
 * the URI, the service's own `initrd=initrd` included, so no stored value reaches iPXE
 * unchecked.
 *
 * Read in iPXE's source (github.com/ipxe/ipxe at 0ab2277c40f1, identical for these rules to
 * 36a4c85f911c, the 1.0.0+git-20190125 build Debian ships and the e2e tests boot):
 * - src/image/script.c `process_script`: a script is split into lines on `\n` only; a
 *   trailing `\r` is dropped; a trailing `\` joins the next line (backslash continuation);
 *   the line is then a C string, so a NUL ends it. No quoting or escaping exists anywhere.
 * - src/core/exec.c `split_command`: a line is split into tokens on iPXE's `isspace`
 *   (space, \t, \n, \v, \f, \r; src/core/ctype.c). Whitespace can never be inside a token.
 * - src/core/exec.c `command_terminator`: a token that is exactly `;`, `||` or `&&` ends the
 *   command and starts the next one; a token that starts with `#` drops the rest of the
 *   line (a comment). Only whole tokens count: `a;b` is literal.
 * - src/core/exec.c `expand_tokens` / src/core/settings.c `expand_settings`: every token is
 *   expanded, `${name}` anywhere inside it (innermost first, repeated until none is left)
 *   is replaced by a setting's value.
 * - src/core/getopt.c `getopt_long`: option parsing stops at the first token that does not
 *   start with `-` (no permutation); the URI is that token, so `-x` and `--` after it are
 *   literal. src/hci/commands/image_cmd.c `imgsingle_exec` then joins every token after the
 *   URI with single spaces (src/core/exec.c `concat_args`): that string is the command line.
 * Linux (lib/cmdline.c `next_arg`) splits the command line on spaces and reads double quotes
 * as grouping, so a `"` could join later arguments into one.
 */

export const kernelArgLimits = {
  /** Arguments an administrator may give. */
  count: 64,
  /** Characters in one argument. */
  length: 256,
  /** Characters in the whole line after the URI, the service's arguments included. */
  total: 2048,
} as const;

/** Name of the initrd image in the script (`initrd --name initrd ...`). */
export const initrdImageName = 'initrd';

/**
 * What the service writes after the kernel URI before the administrator's arguments. UEFI
 * iPXE hands the kernel's EFI stub only the initrd named on the command line. It comes
 * first so that a `--` among the administrator's arguments cannot turn it into an
 * argument of init.
 */
export const serviceKernelArgs: readonly string[] = [`initrd=${initrdImageName}`];

/** Every token the script writes after the kernel URI, in order. */
export function kernelLineTokens(args: readonly string[]): string[] {
  return [...serviceKernelArgs, ...args];
}

/** Length of the command line iPXE builds from `tokens` (`concat_args`: single spaces). */
export function kernelLineLength(tokens: readonly string[]): number {
  return tokens.join(' ').length;
}

/** The characters an argument may hold; anything else is refused with a reason below. */
const allowedChars = /^[A-Za-z0-9_.,:;=/+@%~^*!?()[\]{}<>-]+$/;
const allowedDescription = 'letters, digits and _ . , : ; = / + @ % ~ ^ * ! ? ( ) [ ] { } < > -';

/** Tokens iPXE reads as the end of a command (exec.c `command_terminator`). */
const ipxeTerminators: ReadonlySet<string> = new Set([';', '||', '&&']);

/** iPXE's `isspace` (src/core/ctype.c): the characters `split_command` splits on. */
const ipxeSpace = /[ \t\n\v\f\r]/;
// eslint-disable-next-line no-control-regex
const controlChar = /[\x00-\x1f\x7f]/;
// eslint-disable-next-line no-control-regex
const nonAscii = /[^\x00-\x7f]/;

/**
 * Why iPXE would not read `token` as one literal kernel argument (or Linux not as one
 * argument), or undefined when it would. Reasons name the first rule broken, most specific
 * first.
 */
export function kernelTokenProblem(token: string): string | undefined {
  if (token.length === 0) return 'arguments must not be empty';
  if (token.length > kernelArgLimits.length) return `each argument must be at most ${kernelArgLimits.length} characters`;
  if (ipxeTerminators.has(token)) {
    return `"${token}" on its own is an iPXE command separator: what follows would run as iPXE commands (inside a longer argument, ; is literal and allowed)`;
  }
  if (token.startsWith('#')) return '# at the start of an argument makes iPXE ignore the rest of the line (a comment); # is not allowed';
  if (nonAscii.test(token)) return 'only ASCII characters are allowed (UEFI iPXE passes the command line byte by byte as UCS-2, so other characters arrive mangled)';
  if (ipxeSpace.test(token)) return 'no whitespace: iPXE splits the line on whitespace, and a newline ends the command (the rest would run as iPXE commands)';
  if (controlChar.test(token)) return 'no control characters: a NUL ends the iPXE script line, the others are not kernel-argument text';
  if (token.includes('$')) return 'no $: iPXE replaces ${...} with the value of a setting in every argument';
  if (token.includes('#')) return 'no #: a # at the start of an argument makes iPXE ignore the rest of the line (a comment)';
  if (/[&|]/.test(token)) return 'no & or |: "&&" and "||" are iPXE command separators';
  if (/["'`]/.test(token)) return 'no quotes: Linux reads double quotes as grouping (one argument could swallow the next ones)';
  if (token.includes('\\')) return 'no backslashes: a trailing backslash continues the iPXE script line onto the next one';
  if (!allowedChars.test(token)) return `arguments may hold only ${allowedDescription}`;
  return undefined;
}

/**
 * Templated arguments: `{{name}}` is replaced when the script is served, with the value for
 * the machine that booted. The names (anything else is refused at upload):
 * - `machine_id`: the machine's id;
 * - `mac`: the MAC that booted, canonical (`52:54:00:12:34:56`);
 * - `hostname`: the machine's `hostname` (RFC 1123), or its id when it has none;
 * - `base_url`: `scheme://host[:port]` the machine chained from, as the trusted front end saw it;
 * - `arch`, `platform`: `/boot.ipxe`'s validated query parameters (empty when absent);
 * - `metadata_url`: this boot's NoCloud seed URL, ending in `/` (`ds=nocloud;s={{metadata_url}}`):
 *   a per-boot secret under `base_url`, answered only to the client that fetched the script.
 * The rendered argument is checked again with every rule of `kernelTokenProblem`, and the
 * rendered line against the 2048 characters: a value can never add iPXE syntax.
 */
export const templateNames = ['machine_id', 'mac', 'hostname', 'base_url', 'arch', 'platform', 'metadata_url'] as const;
export type TemplateName = (typeof templateNames)[number];
export type TemplateValues = Readonly<Record<TemplateName, string | undefined>>;

const placeholder = /\{\{([^{}]*)\}\}/g;
const knownNames: ReadonlySet<string> = new Set(templateNames);

/** Why the placeholders of `arg` are not valid (an unknown name, a malformed `{{`), or undefined. */
export function templateProblem(arg: string): string | undefined {
  for (const [, name] of arg.matchAll(placeholder)) {
    if (!knownNames.has(name as string)) return `unknown placeholder {{${name}}}: the names are ${templateNames.map((n) => `{{${n}}}`).join(', ')}`;
  }
  const rest = arg.replace(placeholder, '');
  if (rest.includes('{{') || rest.includes('}}')) return 'malformed placeholder: write {{name}} (no spaces), and no other {{ or }}';
  return undefined;
}

/**
 * `arg` with its placeholders replaced. Throws UnsafeKernelLine for a placeholder whose value
 * is unavailable (an invalid Host header for `base_url`); the caller checks the rendered
 * line with `assertKernelLineSafe`.
 */
export function renderKernelArg(arg: string, values: TemplateValues): string {
  const problem = templateProblem(arg);
  if (problem) throw new UnsafeKernelLine([{ reason: problem }]);
  return arg.replace(placeholder, (_, name: string) => {
    const value = values[name as TemplateName];
    if (value === undefined) throw new UnsafeKernelLine([{ reason: `no value for {{${name}}} in this request` }]);
    return value;
  });
}

/** A stand-in value per placeholder for the upload-time check (the rendered value is checked again at render time). */
const sampleValue = 'x';

/** Why an administrator may not give `arg` (iPXE safety plus the service's own rules, placeholders included). */
export function kernelArgProblem(arg: string): string | undefined {
  if (arg.startsWith('initrd=')) return 'initrd= is set by the service (it names the uploaded initrd)';
  const template = templateProblem(arg);
  if (template) return template;
  const literal = kernelTokenProblem(arg);
  if (literal) return literal;
  return kernelTokenProblem(arg.replace(placeholder, sampleValue));
}

function lineTooLong(length: number): string {
  return `the kernel command line (${serviceKernelArgs.join(' ')} and the arguments, joined by single spaces) must be at most ${kernelArgLimits.total} characters; it would be ${length}`;
}

export interface KernelLineProblem {
  /** Index of the token in the list given, or undefined for the line as a whole. */
  index?: number;
  reason: string;
}

/**
 * Everything wrong with the tokens a script is about to write after the kernel URI (all
 * of them: the service's `initrd=initrd` and the stored arguments). Empty when iPXE can
 * read each one only as a literal kernel argument and the line fits the limits.
 */
export function kernelLineProblems(argsOnLine: readonly string[]): KernelLineProblem[] {
  const problems: KernelLineProblem[] = [];
  argsOnLine.forEach((token, index) => {
    const reason = typeof token === 'string' ? kernelTokenProblem(token) : 'each argument must be a string';
    if (reason) problems.push({ index, reason });
  });
  const maxTokens = kernelArgLimits.count + serviceKernelArgs.length;
  if (argsOnLine.length > maxTokens) problems.push({ reason: `at most ${maxTokens} tokens after the kernel URI (${kernelArgLimits.count} arguments and the service's own)` });
  const length = kernelLineLength(argsOnLine.filter((t) => typeof t === 'string'));
  if (length > kernelArgLimits.total) problems.push({ reason: lineTooLong(length) });
  return problems;
}

export class UnsafeKernelLine extends Error {
  constructor(readonly problems: readonly KernelLineProblem[]) {
    super(`refusing to write an unsafe iPXE kernel line: ${problems.map((p) => (p.index === undefined ? p.reason : `argument ${p.index}: ${p.reason}`)).join('; ')}`);
    this.name = 'UnsafeKernelLine';
  }
}

/**
 * Throws `UnsafeKernelLine` unless every token iPXE would read after the kernel URI is one
 * literal argument and the line fits the limits. The renderer calls it on
 * `kernelLineTokens(profile.kernel.args)` before writing the line.
 */
export function assertKernelLineSafe(argsOnLine: readonly string[]): void {
  const problems = kernelLineProblems(argsOnLine);
  if (problems.length > 0) throw new UnsafeKernelLine(problems);
}

/** `kernel_args`: a JSON array of strings, each one a literal argument on the iPXE `kernel` line. */
export const kernelArgsSchema = z
  .array(
    z.string({ error: 'each argument must be a string' }).superRefine((arg, ctx) => {
      const reason = kernelArgProblem(arg);
      if (reason) ctx.addIssue({ code: 'custom', message: reason });
    }),
    { error: 'kernel_args must be a JSON array of strings' },
  )
  .max(kernelArgLimits.count, { error: `at most ${kernelArgLimits.count} arguments` })
  .superRefine((args, ctx) => {
    const length = kernelLineLength(kernelLineTokens(args));
    if (length > kernelArgLimits.total) ctx.addIssue({ code: 'custom', message: lineTooLong(length) });
  });
