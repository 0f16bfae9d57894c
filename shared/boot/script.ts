import { assertKernelLineSafe, initrdImageName, kernelArgLimits, kernelLineLength, kernelLineTokens, kernelTokenProblem, renderKernelArg, UnsafeKernelLine, type TemplateValues } from '../domain/kernel-args';
import { architecturesOf, type ArchImages, type BootProfile } from '../domain/profile';
import { partCount } from './parts';

export interface ScriptInput {
  machineId: string;
  mac: string;
  profile: BootProfile;
  /** The images this request boots (shared/domain/profile.ts `imagesFor`); default: the profile's own (x86 family). */
  images?: ArchImages;
  generatedAt: Date;
  /**
   * Proxy mode: the part size. An initrd larger than it is listed as several parts
   * (`&part=n`, each its own `initrd` image) so that no response exceeds the platform's
   * caps. Undefined (redirect mode): one URL per asset, Storage serves it whole.
   */
  partBytes?: number;
  /**
   * This boot's token (shared/lifecycle/tokens.ts): the script reports `booting` with it right
   * before `boot`, and hands it to the kernel as `netboot.token=...` for the installed OS's
   * callback. Undefined: neither.
   */
  bootToken?: string;
  /** The asset URLs' `boot` parameter: where the service records the kernel and initrd downloads. */
  bootRef?: string;
  /**
   * Values of the kernel arguments' placeholders (`{{name}}`, shared/domain/kernel-args.ts)
   * besides `machine_id` and `mac`, which come from above. A placeholder without a value
   * throws UnsafeKernelLine (no script).
   */
  templateValues?: Partial<TemplateValues>;
}

/** Attempts per download, and the pause between two (iPXE restarts a broken download from zero). */
export const downloadAttempts = 3;
export const retryPauseSeconds = 5;
/** After a final failure the script says why, waits this long, then reboots (the next boot tries again). */
export const failurePauseSeconds = 30;

/**
 * The URL of one asset of one version of a profile, relative so that it resolves against
 * whichever gateway host the client chained from. `v` is the blob id: the URL names
 * immutable bytes, so a script fetched before a replace still boots the version it
 * describes, and caches may keep the answer for good. `part` names one part of it.
 */
export function assetUrl(profileId: string, kind: 'kernel' | 'initrd', blobId: string, part?: number, bootRef?: string): string {
  return `/asset/${profileId}/${kind}?v=${blobId}${part === undefined ? '' : `&part=${part}`}${bootRef === undefined ? '' : `&boot=${bootRef}`}`;
}

/** The iPXE image name of initrd part `index`: `initrd`, then `initrd1`, `initrd2`, ... */
export function initrdPartName(index: number): string {
  return index === 0 ? initrdImageName : `${initrdImageName}${index}`;
}

/**
 * The iPXE script for one machine. `initrd --name initrd` plus `initrd=initrd` on the
 * kernel line is what UEFI iPXE needs: the kernel's EFI stub loads only the initrds named
 * on its command line (and concatenates them in that order), and without it boots with no
 * initrd and panics. BIOS iPXE ignores the names and loads every initrd image in download
 * order. With parts, every part is named on the kernel line, in order. The kernel line is
 * checked again here, whatever was stored: a token iPXE would read as syntax, or a line
 * over 2048 characters once the part names are added, throws UnsafeKernelLine, and no
 * script is served.
 */
export function renderIpxeScript({ machineId, mac, profile, images = profile, generatedAt, partBytes, bootToken, bootRef, templateValues }: ScriptInput): string {
  const values: TemplateValues = { hostname: undefined, base_url: undefined, arch: undefined, platform: undefined, metadata_url: undefined, machine_id: machineId, ...templateValues, mac };
  // Placeholders rendered first; the rendered line is what is checked (and what counts against 2048).
  const tokens = kernelLineTokens(profile.kernel.args.map((arg) => renderKernelArg(arg, values)));
  assertKernelLineSafe(tokens);
  const parts = partBytes === undefined ? 1 : partCount(images.initrd.size, partBytes);
  const extra = Array.from({ length: parts - 1 }, (_, i) => `initrd=${initrdPartName(i + 1)}`);
  // The service's own tokens come first (before any `--` of the administrator).
  let line = [...tokens.slice(0, 1), ...extra, ...tokens.slice(1)];
  if (extra.length > 0) assertPartNamesFit(line, extra);
  if (bootToken) {
    // Only when it fits the 2048 characters: the boot matters more than the installed callback.
    const withToken = [...tokens.slice(0, 1), ...extra, `netboot.token=${bootToken}`, ...tokens.slice(1)];
    if (kernelLineLength(withToken) <= kernelArgLimits.total && !kernelTokenProblem(`netboot.token=${bootToken}`)) line = withToken;
  }
  const downloads: Download[] = [
    { label: 'kernel', what: 'the kernel', command: [`kernel ${assetUrl(profile.id, 'kernel', images.kernel.id, undefined, bootRef)}`, ...line].join(' ') },
    ...(parts === 1
      ? [{ label: 'initrd', what: 'the initrd', command: `initrd --name ${initrdImageName} ${assetUrl(profile.id, 'initrd', images.initrd.id, undefined, bootRef)}` }]
      : Array.from({ length: parts }, (_, i) => ({
          label: `initrd${i}`,
          what: `initrd part ${i + 1} of ${parts}`,
          command: `initrd --name ${initrdPartName(i)} ${assetUrl(profile.id, 'initrd', images.initrd.id, i, i === parts - 1 ? bootRef : undefined)}`,
        }))),
  ];
  return [
    '#!ipxe',
    '',
    `# Boot configuration for ${machineId} (${mac})`,
    `# Boot Profile ID: ${profile.id}`,
    `# Generated: ${generatedAt.toISOString().replace(/\.\d{3}Z$/, 'Z')}`,
    '',
    ...downloads.flatMap(retried),
    ...(bootToken ? [`imgfetch --name report /boot/report?token=${bootToken}&phase=booting && imgfree report || echo netboot: could not report booting to the server, booting anyway`] : []),
    'boot || goto boot_failed',
    '',
    ...downloads.flatMap(({ label, what }) => [`:${label}_failed`, `echo netboot: giving up: ${what} could not be downloaded in ${downloadAttempts} attempts`, 'goto failed']),
    ':boot_failed',
    'echo netboot: the downloaded kernel did not start',
    ':failed',
    `echo netboot: rebooting in ${failurePauseSeconds} s to try again`,
    `sleep ${failurePauseSeconds}`,
    'reboot',
    '',
  ].join('\n');
}

interface Download {
  /** Script label prefix (letters and digits). */
  label: string;
  what: string;
  /** The `kernel` / `initrd` command as it would stand alone. */
  command: string;
}

/**
 * One download with retries: up to `downloadAttempts` tries, `retryPauseSeconds` apart, each
 * failure said on the console. iPXE (src/core/exec.c) runs `a && b || c && d || e` left to
 * right on the last status: success jumps on; a failure either gives up (the last attempt)
 * or says so and loops. The counter is an int32 setting (`inc`, `iseq`, all in iPXE's default
 * build and Debian's 1.0.0+git-20190125).
 */
function retried({ label, what, command }: Download): string[] {
  return [
    'set netboot_try:int32 0',
    `:${label}`,
    'inc netboot_try',
    `${command} && goto ${label}_ok || iseq \${netboot_try} ${downloadAttempts} && goto ${label}_failed || echo netboot: downloading ${what} failed (attempt \${netboot_try} of ${downloadAttempts}), retrying in ${retryPauseSeconds} s`,
    `sleep ${retryPauseSeconds}`,
    `goto ${label}`,
    `:${label}_ok`,
  ];
}

/**
 * The script of a machine whose netboot is `disabled`: leave iPXE for the local disk. BIOS:
 * `sanboot --no-describe --drive 0x80` boots the first hard disk through INT 13 (iPXE's own
 * way to boot the local disk); if that fails, `exit` hands back to the BIOS, which tries its
 * next boot device. UEFI: `exit` returns to the firmware's boot manager, which tries the next
 * boot entry (sanboot of a BIOS drive number means nothing there).
 */
export function renderLocalBootScript({ machineId, mac, generatedAt }: { machineId: string; mac: string; generatedAt: Date }): string {
  return [
    '#!ipxe',
    '',
    `# Boot configuration for ${machineId} (${mac})`,
    '# Netboot: disabled (boot from the local disk)',
    `# Generated: ${generatedAt.toISOString().replace(/\.\d{3}Z$/, 'Z')}`,
    '',
    'echo netboot: network boot is disabled for this machine: booting from the local disk',
    'iseq ${platform} efi && goto local_efi || goto local_bios',
    ':local_bios',
    'sanboot --no-describe --drive 0x80 || echo netboot: the first local disk (BIOS drive 0x80) did not boot',
    'echo netboot: leaving iPXE: the BIOS tries its next boot device',
    'exit',
    ':local_efi',
    'echo netboot: leaving iPXE: the UEFI boot manager tries its next boot entry',
    'exit',
    '',
  ].join('\n');
}

/**
 * The script for a request whose architecture the profile has no images for (shared/domain/
 * profile.ts `imagesFor`: the profile's own images are the x86 family's, i386 and x86_64;
 * others only where the profile has `architectures.<arch>`): says so on the console, waits,
 * and reboots like a failed boot (the lifecycle scripts' way: never an iPXE prompt, never
 * another architecture's kernel).
 */
export function renderWrongArchScript({ machineId, mac, profile, arch, generatedAt }: { machineId: string; mac: string; profile: Pick<BootProfile, 'id' | 'architectures'>; arch: string; generatedAt: Date }): string {
  const profileId = profile.id;
  return [
    '#!ipxe',
    '',
    `# Boot configuration for ${machineId} (${mac})`,
    `# Boot Profile ID: ${profileId}`,
    `# Generated: ${generatedAt.toISOString().replace(/\.\d{3}Z$/, 'Z')}`,
    '',
    `echo netboot: boot profile ${profileId} has no kernel for architecture ${arch} (it boots ${architecturesOf(profile).join(' / ')}): not booting`,
    `echo netboot: rebooting in ${failurePauseSeconds} s`,
    `sleep ${failurePauseSeconds}`,
    'reboot',
    '',
  ].join('\n');
}

/** The part names are the service's own tokens; they count in the kernel line's 2048 characters. */
function assertPartNamesFit(line: readonly string[], extra: readonly string[]): void {
  const problems = extra.flatMap((token) => {
    const reason = kernelTokenProblem(token);
    return reason ? [{ reason: `${token}: ${reason}` }] : [];
  });
  const length = kernelLineLength(line);
  if (length > kernelArgLimits.total) {
    problems.push({
      reason: `the kernel command line with the ${extra.length + 1} initrd part names would be ${length} characters, over ${kernelArgLimits.total}: raise ASSET_PART_BYTES or shorten the kernel arguments`,
    });
  }
  if (problems.length > 0) throw new UnsafeKernelLine(problems);
}
