// A real boot network for end-to-end boots: a network namespace of its own with a bridge
// (192.0.2.1/24, a documentation range; nothing routed out), Debian's dnsmasq on the bridge
// (DHCP, TFTP), a relay in the namespace that pipes TCP ports of 192.0.2.1 to servers on the
// host's loopback (through Unix sockets: the filesystem is shared between namespaces, the network
// is not), an optional SNTP responder, and QEMU machines on tap devices of the bridge, booting
// from their firmware (SeaBIOS PXE, OVMF, AAVMF) with no QEMU built-in DHCP.
// See scripts/e2e/prepare-network.sh and docs/booting/troubleshooting.md ("Try it yourself").
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { accelArgs, cleanOutput, parseMarker, type BootResult } from './qemu';
import { deleteNamespace, deleteStaleNamespaces, pidAlive } from '../helpers/netns';

const REPO = path.resolve(__dirname, '../..');
const PREPARE = path.join(REPO, 'scripts/e2e/prepare-network.sh');
const RELAY = path.join(__dirname, 'netns-relay.ts');
const TSX = path.join(REPO, 'node_modules/tsx/dist/cli.mjs');

export const SERVER_IP = '192.0.2.1';
const BRIDGE = 'br0';
/** Leases handed out by the harness's dnsmasq lines when the printed configuration has no range. */
export const DHCP_RANGE = '192.0.2.100,192.0.2.199,255.255.255.0,10m';

export const firmwareFiles = {
  ovmfCode: '/usr/share/OVMF/OVMF_CODE_4M.fd',
  ovmfVars: '/usr/share/OVMF/OVMF_VARS_4M.fd',
  aavmfCode: '/usr/share/AAVMF/AAVMF_CODE.fd',
  aavmfVars: '/usr/share/AAVMF/AAVMF_VARS.fd',
};
const NAMESPACE_PREFIX = 'nbe2e';
const NAMESPACE_RE = new RegExp(`^${NAMESPACE_PREFIX}-[a-z0-9]+-(\\d+)$`);

function missingTools(): string[] {
  const tools = ['ip', 'dnsmasq', 'qemu-system-x86_64', 'qemu-system-aarch64', 'p11-kit'];
  const missing = tools.filter((t) => spawnSync('sh', ['-c', `command -v ${t}`], { stdio: 'ignore' }).status !== 0);
  return [...missing, ...Object.values(firmwareFiles).filter((f) => !fs.existsSync(f))];
}

/**
 * What a boot network needs: root (network namespaces, tap devices) and the packages
 * prepare-network.sh installs. Not ok, with the reason, when it cannot be had here.
 */
export function prepareBootNetwork(): { ok: true } | { ok: false; reason: string } {
  if (process.getuid?.() !== 0) return { ok: false, reason: 'boot networks need root (network namespaces, tap devices)' };
  if (missingTools().length === 0) return { ok: true };
  const res = spawnSync('bash', [PREPARE], { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', timeout: 20 * 60_000 });
  if (res.status !== 0) {
    const tail = `${res.stdout ?? ''}${res.stderr ?? ''}`.trim().split('\n').slice(-10).join('\n');
    return { ok: false, reason: `prepare-network.sh failed (${res.error?.message ?? `exit ${res.status}`}):\n${tail}` };
  }
  const still = missingTools();
  return still.length === 0 ? { ok: true } : { ok: false, reason: `still missing after prepare-network.sh: ${still.join(', ')}` };
}

function ip(...args: string[]): void {
  const res = spawnSync('ip', args, { encoding: 'utf8' });
  if (res.status !== 0) throw new Error(`ip ${args.join(' ')}: ${res.stderr.trim()}`);
}

/** What test processes that died before their cleanup ran left behind (their pid is in the names). */
function deleteStaleRuns(): void {
  deleteStaleNamespaces(NAMESPACE_RE);
  // And their directories (TFTP roots, sockets, firmware variables).
  for (const entry of fs.readdirSync(os.tmpdir())) {
    const m = /^(nbe2e-[a-z0-9]+-(\d+))-/.exec(entry);
    if (m && !pidAlive(Number(m[2]))) fs.rmSync(path.join(os.tmpdir(), entry), { recursive: true, force: true });
  }
}

/** Where a relayed port leads (servers on the host's loopback), and who was led there. */
export interface RelayedPort {
  /** The port on 192.0.2.1 inside the namespace. */
  readonly port: number;
  /** Leads later connections to this host port (127.0.0.1). */
  target(port: number): void;
  /** Leads later connections of the machine with this MAC (by its DHCP lease) to this host port. */
  targetFor(mac: string, port: number): void;
  /** Connections relayed so far to a host port. */
  connections(port: number): number;
}

/** The MAC holding `address` in dnsmasq's lease file (`expiry mac ip name client-id` lines). */
function macOfLease(leaseFile: string, address: string): string | undefined {
  let text = '';
  try {
    text = fs.readFileSync(leaseFile, 'utf8');
  } catch {
    return undefined;
  }
  const line = text.split('\n').find((l) => l.split(' ')[2] === address);
  return line?.split(' ')[1]?.toLowerCase();
}

export type Firmware = 'bios' | 'uefi' | 'arm64' | 'uefi-http';

export interface NetworkBootOptions {
  firmware: Firmware;
  mac: string;
  timeoutMs?: number;
  /** Ends the machine (after a moment) once the console matches. */
  until?: RegExp;
  /** QEMU `-rtc base=` (e.g. '2035-01-01'): the machine's clock, years off when a test wants it. */
  rtcBase?: string;
  /** An EFI signature list given to OVMF as its HTTPS CA store (fw_cfg etc/edk2/https/cacerts). */
  httpsCaCerts?: string;
  memoryMb?: number;
}

export interface BootNetwork {
  readonly namespace: string;
  /** A directory of this network's own (removed by destroy()). */
  readonly dir: string;
  /** dnsmasq's TFTP root. */
  readonly tftpRoot: string;
  /** The relayed TCP ports, by port on 192.0.2.1. */
  readonly ports: ReadonlyMap<number, RelayedPort>;
  /** Starts (or restarts) dnsmasq with the harness's own lines plus `config` (dnsmasq.conf syntax). */
  startDnsmasq(config: string): Promise<void>;
  /** dnsmasq's log so far (DHCP and TFTP lines). */
  dnsmasqLog(): string;
  /** SNTP requests the responder answered so far. */
  ntpRequests(): number;
  boot(opts: NetworkBootOptions): Promise<BootResult>;
  destroy(): Promise<void>;
}

function waitForLine(child: ChildProcess, pattern: RegExp, timeoutMs: number, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const onData = (d: Buffer) => {
      seen += d.toString('utf8');
      if (pattern.test(seen)) done();
    };
    const timer = setTimeout(() => done(new Error(`${what} not ready in ${timeoutMs} ms:\n${seen}`)), timeoutMs);
    const onExit = (code: number | null) => done(new Error(`${what} exited (${code}):\n${seen}`));
    const done = (err?: Error) => {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.stderr?.off('data', onData);
      child.off('exit', onExit);
      if (err) reject(err);
      else resolve();
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', onExit);
  });
}

/**
 * Creates a boot network named after `tag` (a few lowercase letters and digits, unique per test
 * file so files can run side by side) and this process's id. `tcpPorts` are relayed from
 * 192.0.2.1; `ntp` answers SNTP on 192.0.2.1:123.
 */
export async function createBootNetwork(opts: { tag: string; tcpPorts: number[]; ntp?: boolean }): Promise<BootNetwork> {
  if (!/^[a-z0-9]{1,8}$/.test(opts.tag)) throw new Error(`tag must be 1-8 lowercase letters or digits: ${opts.tag}`);
  deleteStaleRuns();
  const namespace = `${NAMESPACE_PREFIX}-${opts.tag}-${process.pid}`;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `${namespace}-`));
  const tftpRoot = path.join(dir, 'tftp');
  fs.mkdirSync(tftpRoot);
  // dnsmasq serves TFTP as the user `nobody`: the tree must be readable by others.
  fs.chmodSync(dir, 0o755);
  deleteNamespace(namespace);
  const onExit = () => deleteNamespace(namespace);
  process.on('exit', onExit);

  const children = new Set<ChildProcess>();
  const hostServers: net.Server[] = [];
  const relayedSockets = new Set<net.Socket>();
  const ports = new Map<number, RelayedPort>();
  let dnsmasq: ChildProcess | undefined;
  let dnsmasqOutput = '';
  let ntpCount = 0;
  let tapCounter = 0;

  const inNamespace = (cmd: string, args: string[]): ChildProcess => {
    const child = spawn('ip', ['netns', 'exec', namespace, cmd, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    children.add(child);
    child.on('exit', () => children.delete(child));
    return child;
  };

  const destroy = async (): Promise<void> => {
    for (const child of children) child.kill('SIGKILL');
    // Relayed connections may be kept alive by the servers behind them: end them, then close.
    for (const socket of relayedSockets) socket.destroy();
    await Promise.all(hostServers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    deleteNamespace(namespace);
    process.off('exit', onExit);
    fs.rmSync(dir, { recursive: true, force: true });
  };

  try {
    ip('netns', 'add', namespace);
    ip('-n', namespace, 'link', 'set', 'lo', 'up');
    ip('-n', namespace, 'link', 'add', BRIDGE, 'type', 'bridge');
    ip('-n', namespace, 'addr', 'add', `${SERVER_IP}/24`, 'dev', BRIDGE);
    ip('-n', namespace, 'link', 'set', BRIDGE, 'up');

    // Host side of each relayed port: a Unix socket piped to whichever loopback port it targets now.
    const relayTcp: { port: number; socket: string }[] = [];
    for (const port of opts.tcpPorts) {
      let defaultPort = 0;
      const byMac = new Map<string, number>();
      const counts = new Map<number, number>();
      const socket = path.join(dir, `relay-${port}.sock`);
      const server = net.createServer((inbound) => {
        relayedSockets.add(inbound);
        inbound.on('close', () => relayedSockets.delete(inbound));
        // The relay's first line is the guest's address; its lease names the machine.
        let head = Buffer.alloc(0);
        const onHead = (chunk: Buffer) => {
          head = Buffer.concat([head, chunk]);
          const nl = head.indexOf(10);
          if (nl < 0) return;
          inbound.off('data', onHead);
          inbound.pause();
          const mac = macOfLease(path.join(dir, 'leases'), head.subarray(0, nl).toString('latin1').trim());
          const to = (mac && byMac.get(mac)) || defaultPort;
          counts.set(to, (counts.get(to) ?? 0) + 1);
          const outbound = net.connect(to, '127.0.0.1');
          relayedSockets.add(outbound);
          outbound.on('close', () => relayedSockets.delete(outbound));
          const rest = head.subarray(nl + 1);
          if (rest.length > 0) outbound.write(rest);
          inbound.pipe(outbound).pipe(inbound);
          inbound.resume();
          outbound.on('error', () => inbound.destroy());
        };
        inbound.on('data', onHead);
        inbound.on('error', () => undefined);
      });
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(socket, () => resolve());
      });
      hostServers.push(server);
      relayTcp.push({ port, socket });
      ports.set(port, {
        port,
        target: (p) => {
          defaultPort = p;
        },
        targetFor: (mac, p) => {
          byMac.set(mac.toLowerCase(), p);
        },
        connections: (p) => counts.get(p) ?? 0,
      });
    }
    const relay = inNamespace(process.execPath, [TSX, RELAY, JSON.stringify({ address: SERVER_IP, tcp: relayTcp, ntp: opts.ntp ?? false })]);
    relay.stdout?.on('data', (d: Buffer) => {
      ntpCount += (d.toString('utf8').match(/NTP-REQUEST/g) ?? []).length;
    });
    await waitForLine(relay, /RELAY-READY/, 30_000, 'the namespace relay');
  } catch (err) {
    await destroy();
    throw err;
  }

  const startDnsmasq = async (config: string): Promise<void> => {
    if (dnsmasq && dnsmasq.exitCode === null) {
      const old = dnsmasq;
      await new Promise<void>((resolve) => {
        old.once('exit', () => resolve());
        old.kill('SIGKILL');
      });
    }
    const file = path.join(dir, 'dnsmasq.conf');
    // The harness's lines first (this bridge only, no DNS, leases and logs of its own), each
    // unless the configuration under test says it itself (dnsmasq refuses a repeated keyword).
    const said = (keyword: string) => new RegExp(`^${keyword}(=|$)`, 'm').test(config);
    const harness = [
      `interface=${BRIDGE}`,
      'bind-interfaces',
      'port=0',
      'log-dhcp',
      `dhcp-leasefile=${path.join(dir, 'leases')}`,
    ].filter((line) => !said(line.split('=')[0] ?? line));
    fs.writeFileSync(file, `${harness.join('\n')}\n${config}\n`);
    dnsmasqOutput = '';
    dnsmasq = inNamespace('dnsmasq', ['--keep-in-foreground', `--conf-file=${file}`, '--log-facility=-', '--pid-file=']);
    const capture = (d: Buffer) => {
      dnsmasqOutput += d.toString('utf8');
    };
    dnsmasq.stdout?.on('data', capture);
    dnsmasq.stderr?.on('data', capture);
    await waitForLine(dnsmasq, /DHCP, (?:proxy on subnet|IP range)/, 15_000, 'dnsmasq');
  };

  const boot = async (b: NetworkBootOptions): Promise<BootResult> => {
    const tap = `tap${tapCounter++}`;
    const runDir = fs.mkdtempSync(path.join(dir, `${tap}-`));
    ip('-n', namespace, 'tuntap', 'add', 'dev', tap, 'mode', 'tap');
    ip('-n', namespace, 'link', 'set', tap, 'master', BRIDGE);
    ip('-n', namespace, 'link', 'set', tap, 'up');
    try {
      const [binary, args] = await qemuCommand(b, tap, runDir);
      return await runMachine(inNamespace(binary, args), b);
    } finally {
      spawnSync('ip', ['-n', namespace, 'link', 'del', tap], { stdio: 'ignore' });
      fs.rmSync(runDir, { recursive: true, force: true });
    }
  };

  return {
    namespace,
    dir,
    tftpRoot,
    ports,
    startDnsmasq,
    dnsmasqLog: () => dnsmasqOutput,
    ntpRequests: () => ntpCount,
    boot,
    destroy,
  };
}

/** The QEMU binary and arguments for one machine on `tap`; `runDir` holds its writable firmware variables. */
async function qemuCommand(b: NetworkBootOptions, tap: string, runDir: string): Promise<[string, string[]]> {
  const common = [
    '-nographic', '-no-reboot', '-serial', 'mon:stdio', '-m', String(b.memoryMb ?? (b.firmware === 'bios' ? 256 : 512)),
    '-netdev', `tap,id=n0,ifname=${tap},script=no,downscript=no`,
    ...(b.rtcBase ? ['-rtc', `base=${b.rtcBase}`] : []),
  ];
  // The firmware writes its variable store: each machine gets its own copy.
  const flash = (code: string, vars: string): string[] => {
    const copy = path.join(runDir, 'vars.fd');
    fs.copyFileSync(vars, copy);
    return ['-drive', `if=pflash,format=raw,readonly=on,file=${code}`, '-drive', `if=pflash,format=raw,file=${copy}`];
  };
  const nic = (extra: string) => ['-device', `virtio-net-pci,netdev=n0,mac=${b.mac}${extra}`];
  switch (b.firmware) {
    case 'bios':
      // SeaBIOS boots the NIC's PXE option ROM (QEMU's own), which takes DHCP and TFTP from dnsmasq.
      return ['qemu-system-x86_64', [...(await accelArgs()), ...common, '-boot', 'n', ...nic('')]];
    case 'uefi':
    case 'uefi-http': {
      // romfile= (none): OVMF's own virtio-net driver and its PXE / HTTP boot, not iPXE's ROM.
      const cacerts = b.httpsCaCerts ? ['-fw_cfg', `name=etc/edk2/https/cacerts,file=${b.httpsCaCerts}`] : [];
      // HTTP Boot only: OVMF's PXE attempts (IPv4, then IPv6 waiting out its DHCPv6) come first and
      // cost a minute under TCG; OVMF reads these switches from fw_cfg (OvmfPkg RUNTIME_CONFIG.md).
      const httpOnly = b.firmware === 'uefi-http' ? ['-fw_cfg', 'name=opt/org.tianocore/IPv4PXESupport,string=n', '-fw_cfg', 'name=opt/org.tianocore/IPv6PXESupport,string=n'] : [];
      return ['qemu-system-x86_64', [...(await accelArgs()), ...common, ...flash(firmwareFiles.ovmfCode, firmwareFiles.ovmfVars), ...cacerts, ...httpOnly, ...nic(',romfile=')]];
    }
    case 'arm64':
      // cortex-a57: `-cpu max` emulates pointer authentication in TCG, much slower (qemu-arm64.ts).
      return ['qemu-system-aarch64', ['-M', 'virt', '-cpu', 'cortex-a57', '-accel', 'tcg', ...common, ...flash(firmwareFiles.aavmfCode, firmwareFiles.aavmfVars), ...nic(',romfile=')]];
  }
}

const MARKER_RE = /NETBOOT-E2E-MARKER cmdline=/;

function runMachine(child: ChildProcess, b: NetworkBootOptions): Promise<BootResult> {
  const start = Date.now();
  return new Promise((resolve, reject) => {
    let raw = '';
    let ending: NodeJS.Timeout | undefined;
    const onData = (d: Buffer) => {
      raw += d.toString('utf8');
      // A panicked kernel never powers off and a refused chain may retry for long: stop a moment
      // after the line a test waits for, keeping what follows it.
      if (!ending && (MARKER_RE.test(raw) || raw.includes('Kernel panic') || (b.until && b.until.test(cleanOutput(raw))))) {
        ending = setTimeout(() => child.kill('SIGKILL'), 3_000);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    const timer = setTimeout(() => child.kill('SIGKILL'), b.timeoutMs ?? 180_000);
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
}

// EFI_CERT_X509_GUID {a5c059a1-94e4-4aa7-87b5-ab155c2bf072}, in its in-memory (mixed-endian) layout.
const EFI_CERT_X509_GUID = Buffer.from('a159c0a5e494a74a87b5ab155c2bf072', 'hex');
// The signature owner of each entry: any GUID; this one names the test harness.
const OWNER_GUID = Buffer.from('6e6574626f6f742d6532652d63613031', 'hex');

/**
 * The PEM certificates in `pem` as OVMF reads its HTTPS CA store (fw_cfg etc/edk2/https/cacerts):
 * EFI signature lists (UEFI spec 2.10, 32.4.1), one EFI_CERT_X509_GUID list per certificate,
 * the same layout as `p11-kit extract --format=edk2-cacerts` writes from the system store.
 */
export function edk2CaCerts(pem: string): Buffer {
  const ders = [...pem.matchAll(/-----BEGIN CERTIFICATE-----([^-]+)-----END CERTIFICATE-----/g)].map((m) => Buffer.from((m[1] ?? '').replace(/\s+/g, ''), 'base64'));
  if (ders.length === 0) throw new Error('no PEM certificate given');
  return Buffer.concat(
    ders.map((der) => {
      const header = Buffer.alloc(28);
      EFI_CERT_X509_GUID.copy(header, 0);
      const signatureSize = 16 + der.length;
      header.writeUInt32LE(28 + signatureSize, 16); // SignatureListSize
      header.writeUInt32LE(0, 20); // SignatureHeaderSize
      header.writeUInt32LE(signatureSize, 24); // SignatureSize
      return Buffer.concat([header, OWNER_GUID, der]);
    }),
  );
}
