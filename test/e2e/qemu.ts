// Harness for end-to-end tests that boot a real iPXE client in QEMU against a server on
// the host loopback (the guest reaches it as 10.0.2.2). See scripts/e2e/prepare.sh.
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export interface E2eAssets {
  kernelPath: string;
  initrdPath: string;
}

export interface BootResult {
  marker: string | null;
  cmdline: string | null;
  output: string;
  durationMs: number;
}

const REPO = path.resolve(__dirname, '../..');
const PREPARE = path.join(REPO, 'scripts/e2e/prepare.sh');
const IPXE_LKRN = '/usr/lib/ipxe/ipxe.lkrn';
const EFI_VIRTIO_ROM = '/usr/lib/ipxe/qemu/efi-virtio.rom';
const OVMF_CODE = '/usr/share/OVMF/OVMF_CODE_4M.fd';
const OVMF_VARS = '/usr/share/OVMF/OVMF_VARS_4M.fd';
const DEFAULT_TIMEOUT_MS = 90_000;
const MARKER_RE = /NETBOOT-E2E-MARKER cmdline=(.*)/;

function cacheDir(): string {
  return process.env.E2E_CACHE_DIR || path.join(REPO, '.cache/e2e');
}

function hasQemu(): boolean {
  return spawnSync('qemu-system-x86_64', ['--version'], { stdio: 'ignore' }).status === 0;
}

function missingFiles(assets: E2eAssets): string[] {
  // init.sh: the /init the cached initrd was built with (prepare.sh rebuilds it when the script changed).
  const files = [IPXE_LKRN, EFI_VIRTIO_ROM, OVMF_CODE, OVMF_VARS, assets.kernelPath, assets.initrdPath, path.join(path.dirname(assets.initrdPath), 'init.sh')];
  return files.filter((f) => !fs.existsSync(f));
}

export function prepareE2eAssets(): { ok: true; assets: E2eAssets } | { ok: false; reason: string } {
  const dir = cacheDir();
  const assets: E2eAssets = { kernelPath: path.join(dir, 'vmlinuz'), initrdPath: path.join(dir, 'initrd.gz') };
  if (missingFiles(assets).length === 0 && hasQemu()) return { ok: true, assets };

  // Without root prepare.sh can still build the cache, but only if the packages are there.
  const res = spawnSync('bash', [PREPARE], {
    env: { ...process.env, E2E_CACHE_DIR: dir },
    stdio: ['ignore', 'pipe', 'pipe'],
    encoding: 'utf8',
    timeout: 20 * 60_000,
  });
  if (res.status !== 0) {
    const tail = `${res.stdout ?? ''}${res.stderr ?? ''}`.trim().split('\n').slice(-10).join('\n');
    return { ok: false, reason: `prepare.sh failed (${res.error?.message ?? `exit ${res.status}`}):\n${tail}` };
  }
  const missing = missingFiles(assets);
  if (missing.length > 0 || !hasQemu()) {
    return { ok: false, reason: `still missing after prepare.sh: ${missing.join(', ') || 'qemu-system-x86_64'}` };
  }
  return { ok: true, assets };
}

// /dev/kvm can open fine and still be unusable (some sandboxes: the VM stops with "KVM internal
// error"), so probe once: iPXE under KVM must print a line within a few seconds.
let kvmProbe: Promise<boolean> | undefined;
function kvmUsable(): Promise<boolean> {
  kvmProbe ??= new Promise((resolve) => {
    try {
      fs.closeSync(fs.openSync('/dev/kvm', 'r+'));
    } catch {
      return resolve(false);
    }
    const child = spawn('qemu-system-x86_64', [
      '-accel', 'kvm', '-nographic', '-no-reboot', '-serial', 'mon:stdio', '-m', '128', '-net', 'none',
      '-kernel', IPXE_LKRN, '-append', 'echo KVM-PROBE-OK',
    ], { stdio: ['pipe', 'pipe', 'ignore'] });
    let out = '';
    const finish = (ok: boolean) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      resolve(ok);
    };
    const timer = setTimeout(() => finish(false), 5_000);
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      if (out.includes('KVM-PROBE-OK')) finish(true);
    });
    child.on('error', () => finish(false));
    child.on('close', () => finish(out.includes('KVM-PROBE-OK')));
  });
  return kvmProbe;
}

export async function accelArgs(): Promise<string[]> {
  const forced = process.env.E2E_ACCEL; // "kvm" or "tcg"
  if (forced) return ['-accel', forced];
  return (await kvmUsable()) ? ['-accel', 'kvm'] : ['-accel', 'tcg'];
}

// Strips \r and terminal escapes (CSI sequences, charset selects, two-byte ESC codes); OVMF emits many.
export function cleanOutput(raw: string): string {
  // eslint-disable-next-line no-control-regex
  return raw.replace(/\x1b(?:\[[0-?]*[ -/]*[@-~]|[()][0-9A-Za-z]|[@-Z\\-~])/g, '').replace(/\r/g, '');
}

export function parseMarker(output: string): { marker: string | null; cmdline: string | null } {
  const m = MARKER_RE.exec(output);
  return m ? { marker: m[0].trimEnd(), cmdline: (m[1] ?? '').trim() } : { marker: null, cmdline: null };
}

async function runQemu(args: string[], timeoutMs: number, until?: RegExp): Promise<BootResult> {
  const accel = await accelArgs();
  const start = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn('qemu-system-x86_64', [...accel, '-nographic', '-no-reboot', '-serial', 'mon:stdio', ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let raw = '';
    let ending: NodeJS.Timeout | undefined;
    const onData = (d: string) => {
      raw += d;
      // A panicked kernel never powers off, and -no-reboot cannot end it: stop early, keeping
      // a moment of output (the panic trace, or QEMU's own exit after poweroff).
      if (!ending && (MARKER_RE.test(raw) || raw.includes('Kernel panic') || (until && until.test(cleanOutput(raw))))) {
        ending = setTimeout(() => child.kill('SIGKILL'), 3_000);
      }
    };
    child.stdout.setEncoding('utf8').on('data', onData);
    child.stderr.setEncoding('utf8').on('data', onData);
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    const stop = () => {
      clearTimeout(timer);
      clearTimeout(ending);
    };
    child.on('error', (err) => {
      stop();
      reject(err);
    });
    child.on('close', () => {
      stop();
      const output = cleanOutput(raw);
      resolve({ ...parseMarker(output), output, durationMs: Date.now() - start });
    });
  });
}

function netdevice(mac: string, extra = ''): string[] {
  return ['-device', `virtio-net-pci,netdev=n0,mac=${mac}${extra}`];
}

/** The chain line's extra query (issue 13): iPXE's architecture and platform, for discovery and the boot record. */
export const archAndPlatform = '&arch=${buildarch}&platform=${platform}';

/**
 * Additive options of the boots: `chainQuery` is appended to the chain URL (e.g.
 * `archAndPlatform`); `until` ends the VM (after a moment) once the output matches;
 * `disk` (BIOS) attaches a raw image as the first IDE hard disk.
 */
export interface BootExtras {
  chainQuery?: string;
  until?: RegExp;
  disk?: string;
}

/** `memoryMb`: guest memory (default 256 under BIOS, 512 under UEFI); large initrds need more. */
export function bootBios(opts: { port: number; mac: string; timeoutMs?: number; memoryMb?: number } & BootExtras): Promise<BootResult> {
  const chain = `dhcp && chain http://10.0.2.2:${opts.port}/boot.ipxe?mac=\${net0/mac}${opts.chainQuery ?? ''}`;
  const disk = opts.disk ? ['-drive', `file=${opts.disk},format=raw,if=ide`] : [];
  const args = ['-m', String(opts.memoryMb ?? 256), '-kernel', IPXE_LKRN, '-append', chain, '-netdev', 'user,id=n0', ...netdevice(opts.mac), ...disk];
  return runQemu(args, opts.timeoutMs ?? DEFAULT_TIMEOUT_MS, opts.until);
}

/**
 * Boots BIOS iPXE chaining straight to `url` (any script server the guest reaches, e.g.
 * `http://10.0.2.2:PORT/x.ipxe`) rather than the service's boot.ipxe.
 */
export function bootBiosChain(opts: { url: string; mac: string; timeoutMs?: number }): Promise<BootResult> {
  const args = ['-m', '256', '-kernel', IPXE_LKRN, '-append', `dhcp && chain ${opts.url}`, '-netdev', 'user,id=n0', ...netdevice(opts.mac)];
  return runQemu(args, opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
}

export async function bootUefi(opts: { port: number; mac: string; timeoutMs?: number; memoryMb?: number } & BootExtras): Promise<BootResult> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'e2e-uefi-'));
  try {
    fs.writeFileSync(
      path.join(dir, 'chain.ipxe'),
      `#!ipxe\ndhcp\nchain http://10.0.2.2:${opts.port}/boot.ipxe?mac=\${net0/mac}${opts.chainQuery ?? ''}\n`,
    );
    // OVMF writes its variable store: each run gets its own copy.
    const vars = path.join(dir, 'vars.fd');
    fs.copyFileSync(OVMF_VARS, vars);
    const args = [
      '-m', String(opts.memoryMb ?? 512),
      '-drive', `if=pflash,format=raw,readonly=on,file=${OVMF_CODE}`,
      '-drive', `if=pflash,format=raw,file=${vars}`,
      '-netdev', `user,id=n0,tftp=${dir},bootfile=chain.ipxe`,
      ...netdevice(opts.mac, `,romfile=${EFI_VIRTIO_ROM}`),
    ];
    return await runQemu(args, opts.timeoutMs ?? DEFAULT_TIMEOUT_MS, opts.until);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * A raw disk image whose boot sector writes `NETBOOT-LOCAL-DISK-BOOTED` to the first serial
 * port (COM1, 0x3f8) and halts: proof that the BIOS (or iPXE's sanboot) booted the local disk.
 */
export function localDiskImage(dir: string): string {
  // xor ax,ax; mov ds,ax; mov si,0x7c15; mov dx,0x3f8; l: lodsb; test al,al; jz h; out dx,al; jmp l; h: hlt; jmp h
  const code = [0x31, 0xc0, 0x8e, 0xd8, 0xbe, 0x15, 0x7c, 0xba, 0xf8, 0x03, 0xac, 0x84, 0xc0, 0x74, 0x03, 0xee, 0xeb, 0xf8, 0xf4, 0xeb, 0xfd];
  const sector = Buffer.alloc(512);
  Buffer.from(code).copy(sector, 0);
  Buffer.from('NETBOOT-LOCAL-DISK-BOOTED\r\n\0', 'latin1').copy(sector, code.length);
  sector[510] = 0x55;
  sector[511] = 0xaa;
  const file = path.join(dir, 'local-disk.img');
  fs.writeFileSync(file, Buffer.concat([sector, Buffer.alloc(1024 * 1024 - 512)]));
  return file;
}
