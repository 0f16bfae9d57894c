// Harness for the arm64 UEFI boot: Debian's AAVMF (qemu-efi-aarch64) boots trixie's
// ipxe-arm64.efi from a FAT directory (QEMU's vvfat, EFI/BOOT/BOOTAA64.EFI, the removable
// media path), and iPXE runs `autoexec.ipxe` from the volume it was loaded from: the chain
// line, since a prebuilt iPXE has no embedded script. See scripts/e2e/prepare-arm64.sh.
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { cleanOutput, parseMarker, type BootResult } from './qemu';

const REPO = path.resolve(__dirname, '../..');
const PREPARE = path.join(REPO, 'scripts/e2e/prepare-arm64.sh');
const AAVMF_CODE = '/usr/share/AAVMF/AAVMF_CODE.fd';
const AAVMF_VARS = '/usr/share/AAVMF/AAVMF_VARS.fd';
const MARKER_RE = /NETBOOT-E2E-MARKER cmdline=/;

export interface Arm64Assets {
  ipxeEfi: string;
  kernelPath: string;
  initrdPath: string;
}

function assetsIn(dir: string): Arm64Assets {
  return { ipxeEfi: path.join(dir, 'ipxe-arm64.efi'), kernelPath: path.join(dir, 'vmlinuz'), initrdPath: path.join(dir, 'initrd.gz') };
}

function missing(assets: Arm64Assets): string[] {
  // init.sh: the /init the cached initrd was built with (prepare-arm64.sh rebuilds it when the script changed).
  const files = [AAVMF_CODE, AAVMF_VARS, assets.ipxeEfi, assets.kernelPath, assets.initrdPath, path.join(path.dirname(assets.initrdPath), 'init.sh')].filter((f) => !fs.existsSync(f));
  if (spawnSync('qemu-system-aarch64', ['--version'], { stdio: 'ignore' }).status !== 0) files.push('qemu-system-aarch64');
  return files;
}

/** The arm64 pieces, prepared (installed / extracted) by prepare-arm64.sh when missing. */
export function prepareArm64Assets(): { ok: true; assets: Arm64Assets } | { ok: false; reason: string } {
  const dir = path.join(process.env.E2E_CACHE_DIR || path.join(REPO, '.cache/e2e'), 'arm64');
  const assets = assetsIn(dir);
  if (missing(assets).length === 0) return { ok: true, assets };
  const res = spawnSync('bash', [PREPARE], { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', timeout: 20 * 60_000 });
  if (res.status !== 0) {
    const tail = `${res.stdout ?? ''}${res.stderr ?? ''}`.trim().split('\n').slice(-10).join('\n');
    return { ok: false, reason: `prepare-arm64.sh failed (${res.error?.message ?? `exit ${res.status}`}):\n${tail}` };
  }
  const still = missing(assets);
  return still.length === 0 ? { ok: true, assets } : { ok: false, reason: `still missing after prepare-arm64.sh: ${still.join(', ')}` };
}

/**
 * One arm64 UEFI boot (QEMU `virt`, TCG: no KVM for another architecture): AAVMF, then iPXE,
 * which runs `dhcp` and chains to the service's boot.ipxe with `${buildarch}` and `${platform}`.
 * Ends at the initrd's marker (it powers off), a panic, or `until`.
 */
export async function bootArm64Uefi(opts: { port: number; mac: string; assets: Arm64Assets; timeoutMs?: number; until?: RegExp }): Promise<BootResult> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'e2e-arm64-'));
  try {
    const boot = path.join(dir, 'esp', 'EFI', 'BOOT');
    fs.mkdirSync(boot, { recursive: true });
    fs.copyFileSync(opts.assets.ipxeEfi, path.join(boot, 'BOOTAA64.EFI'));
    fs.writeFileSync(path.join(boot, 'autoexec.ipxe'), `#!ipxe\ndhcp\nchain http://10.0.2.2:${opts.port}/boot.ipxe?mac=\${net0/mac}&arch=\${buildarch}&platform=\${platform}\n`);
    const vars = path.join(dir, 'vars.fd'); // AAVMF writes its variable store: a copy per run
    fs.copyFileSync(AAVMF_VARS, vars);
    const args = [
      // cortex-a57: `-cpu max` emulates pointer authentication (QARMA) in TCG, measured 32 s a boot against 18 s here.
      '-M', 'virt', '-cpu', 'cortex-a57', '-m', '512', '-accel', 'tcg', '-nographic', '-no-reboot', '-serial', 'mon:stdio',
      '-drive', `if=pflash,format=raw,readonly=on,file=${AAVMF_CODE}`,
      '-drive', `if=pflash,format=raw,file=${vars}`,
      '-drive', `if=virtio,format=raw,file=fat:rw:${path.join(dir, 'esp')}`,
      '-netdev', 'user,id=n0', '-device', `virtio-net-pci,netdev=n0,mac=${opts.mac}`,
    ];
    const start = Date.now();
    return await new Promise<BootResult>((resolve, reject) => {
      const child = spawn('qemu-system-aarch64', args, { stdio: ['pipe', 'pipe', 'pipe'] });
      let raw = '';
      let ending: NodeJS.Timeout | undefined;
      const onData = (d: string) => {
        raw += d;
        if (!ending && (MARKER_RE.test(raw) || raw.includes('Kernel panic') || (opts.until && opts.until.test(cleanOutput(raw))))) {
          ending = setTimeout(() => child.kill('SIGKILL'), 3_000);
        }
      };
      child.stdout.setEncoding('utf8').on('data', onData);
      child.stderr.setEncoding('utf8').on('data', onData);
      const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
      child.on('error', (err) => {
        clearTimeout(timer);
        clearTimeout(ending);
        reject(err);
      });
      child.on('close', () => {
        clearTimeout(timer);
        clearTimeout(ending);
        const output = cleanOutput(raw);
        resolve({ ...parseMarker(output), output, durationMs: Date.now() - start });
      });
    });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
