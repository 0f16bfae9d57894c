// `netboot ipxe dhcp`: DHCP configuration that hands each client architecture the iPXE binary
// of `netboot ipxe build` (dnsmasq, ISC dhcpd, Kea), as a full server or as proxyDHCP.
// Pure rendering here; the command (ipxeDhcpCommand) only parses options and prints.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isIPv4 } from 'node:net';
import { Command, Option } from 'commander';
import type { IpxeFile } from '../../shared/ipxe/files';

export type DhcpServer = 'dnsmasq' | 'isc' | 'kea';

/** The binaries `netboot ipxe build` writes (and GET /ipxe/{file} serves), by the client they are for. */
export const IPXE_FILES = {
  bios: 'undionly.kpxe',
  'efi-x86_64': 'snponly-x86_64.efi',
  'efi-x86_64-ipxe': 'ipxe-x86_64.efi',
  'efi-arm64': 'snponly-arm64.efi',
} as const;


/**
 * DHCP option 93 (client system architecture, RFC 4578 and IANA's registry) values served:
 * 0 BIOS PXE; 7 and 9 x86_64 UEFI (9 is what some firmware sends for "EFI BC"); 11 arm64 UEFI;
 * 16 x86_64 and 19 arm64 UEFI HTTP Boot.
 */
export const CLIENT_ARCH = { bios: [0], 'efi-x86_64': [7, 9], 'efi-arm64': [11], 'http-x86_64': [16], 'http-arm64': [19] } as const;

export interface DhcpConfigOptions {
  server: DhcpServer;
  /** proxyDHCP beside the network's own DHCP server (dnsmasq only): boot information, no addresses. */
  proxy: boolean;
  /** Where the binaries are (a `netboot ipxe build` output directory); dnsmasq serves it by TFTP. */
  tftpRoot: string;
  /** ISC / Kea: the TFTP server's address (next-server); dnsmasq serves TFTP itself. */
  tftpServer?: string;
  interface?: string;
  /** The network, a.b.c.d/len (required for proxy and for ISC / Kea). */
  subnet?: { network: string; prefix: number };
  /** The address pool (full server). */
  range?: { start: string; end: string };
  router?: string;
  dns?: string[];
  leaseSeconds: number;
  /** The front door's base URL: iPXE clients get its boot script URL (see ipxeClients). */
  url?: string;
  /** Where UEFI HTTP Boot fetches `/ipxe/{file}` from (defaults to url). */
  httpBootUrl?: string;
  /** x86_64 UEFI gets snponly (the firmware's own NIC driver, the safe default) or ipxe.efi (iPXE's drivers). */
  efiX86_64: 'snponly' | 'ipxe';
  /**
   * What a client that is already iPXE (option 175 or user class "iPXE") gets:
   * `script`, the front door's boot script URL (never a binary, so even a stock iPXE cannot loop);
   * `binary`, its architecture's binary like any PXE ROM (for NIC ROMs that are iPXE, as in QEMU/KVM).
   */
  ipxeClients: 'script' | 'binary';
}

export class DhcpConfigError extends Error {}

/** The file an x86_64 UEFI client gets. */
function efiX86File(o: DhcpConfigOptions): IpxeFile {
  return o.efiX86_64 === 'ipxe' ? IPXE_FILES['efi-x86_64-ipxe'] : IPXE_FILES['efi-x86_64'];
}

const trimSlash = (url: string) => url.replace(/\/+$/, '');

/** The boot script URL an iPXE client is given; iPXE expands `${...}` in a DHCP filename (src/usr/autoboot.c). */
export function scriptUrl(base: string): string {
  return `${trimSlash(base)}/boot.ipxe?mac=\${net0/mac}&arch=\${buildarch}&platform=\${platform}`;
}

/** The published binary's URL on the front door (GET /ipxe/{file}). */
export function binaryUrl(base: string, file: IpxeFile): string {
  return `${trimSlash(base)}/ipxe/${file}`;
}

function ipToInt(ip: string): number {
  return ip.split('.').reduce((n, part) => n * 256 + Number(part), 0);
}

function intToIp(n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');
}

export function netmaskOf(prefix: number): string {
  return intToIp(prefix === 0 ? 0 : (2 ** 32 - 2 ** (32 - prefix)));
}

/** `a.b.c.d/len` with the host bits zero, or a DhcpConfigError saying why not. */
export function parseSubnet(text: string): { network: string; prefix: number } {
  const m = /^([\d.]+)\/(\d{1,2})$/.exec(text.trim());
  if (!m || !isIPv4(m[1] as string) || Number(m[2]) > 32) throw new DhcpConfigError(`--subnet must be an IPv4 network such as 192.0.2.0/24, not ${text}`);
  const prefix = Number(m[2]);
  const ip = ipToInt(m[1] as string);
  const network = ip - (ip % 2 ** (32 - prefix));
  if (network !== ip) throw new DhcpConfigError(`--subnet ${text}: host bits are set (the network is ${intToIp(network)}/${prefix})`);
  return { network: intToIp(network), prefix };
}

export function parseRange(text: string): { start: string; end: string } {
  const [start, end, ...rest] = text.split(',').map((s) => s.trim());
  if (!start || !end || rest.length > 0 || !isIPv4(start) || !isIPv4(end)) throw new DhcpConfigError(`--range must be START,END (two IPv4 addresses), not ${text}`);
  if (ipToInt(start) > ipToInt(end)) throw new DhcpConfigError(`--range ${text}: START comes after END`);
  return { start, end };
}

function inSubnet(ip: string, subnet: { network: string; prefix: number }): boolean {
  const size = 2 ** (32 - subnet.prefix);
  const base = ipToInt(subnet.network);
  return ipToInt(ip) >= base && ipToInt(ip) < base + size;
}

/** The checks every rendering shares; throws DhcpConfigError with what to change. */
export function checkOptions(o: DhcpConfigOptions): void {
  for (const [name, url] of [['--boot-url', o.url], ['--http-boot-url', o.httpBootUrl]] as const) {
    if (url !== undefined && !/^https?:\/\/[^\s"',;\\]+$/.test(url)) throw new DhcpConfigError(`${name} must be an http(s) URL without spaces, quotes, commas or semicolons, not ${url}`);
  }
  if (/[\s"',;\\]/.test(o.tftpRoot)) throw new DhcpConfigError(`--tftp-root must be a path without spaces, quotes, commas or semicolons, not ${o.tftpRoot}`);
  if (o.interface !== undefined && !/^[\w.:@-]{1,15}$/.test(o.interface)) throw new DhcpConfigError(`--interface must be an interface name, not ${o.interface}`);
  for (const [name, ip] of [['--router', o.router], ['--tftp-server', o.tftpServer], ...(o.dns ?? []).map((d) => ['--dns', d] as const)] as const) {
    if (ip !== undefined && !isIPv4(ip)) throw new DhcpConfigError(`${name} must be an IPv4 address, not ${ip}`);
  }
  if (!Number.isInteger(o.leaseSeconds) || o.leaseSeconds < 120) throw new DhcpConfigError('--lease-time must be at least 120 seconds');
  if (o.proxy) {
    if (o.server !== 'dnsmasq') {
      throw new DhcpConfigError(`--proxy: ${o.server === 'isc' ? 'ISC dhcpd' : 'Kea'} cannot be a proxyDHCP server. Use --dnsmasq --proxy beside the existing server, or render --${o.server} without --proxy and add its class rules to the existing ${o.server === 'isc' ? 'dhcpd.conf' : 'kea-dhcp4.conf'}`);
    }
    if (!o.subnet) throw new DhcpConfigError('--proxy needs --subnet NETWORK/LEN (the network the existing DHCP server serves)');
    if (o.range) throw new DhcpConfigError('--proxy hands out no addresses: drop --range (the existing DHCP server keeps its pool)');
  } else {
    if (!o.range) throw new DhcpConfigError('a full DHCP server needs --range START,END (or use --proxy beside an existing DHCP server)');
    if (o.server !== 'dnsmasq' && !o.subnet) throw new DhcpConfigError(`--${o.server} needs --subnet NETWORK/LEN (the subnet declaration the range belongs to)`);
    if (o.server !== 'dnsmasq' && !o.tftpServer) throw new DhcpConfigError(`--${o.server} needs --tftp-server IP: the machine that serves ${o.tftpRoot} by TFTP (next-server)`);
    if (o.subnet) {
      for (const ip of [o.range.start, o.range.end]) {
        if (!inSubnet(ip, o.subnet)) throw new DhcpConfigError(`--range ${ip} is outside --subnet ${o.subnet.network}/${o.subnet.prefix}`);
      }
      if (o.router && !inSubnet(o.router, o.subnet)) throw new DhcpConfigError(`--router ${o.router} is outside --subnet ${o.subnet.network}/${o.subnet.prefix}`);
    }
  }
}

/** What each kind of client is handed, in words (the header of every rendering and the docs). */
export function summaryLines(o: DhcpConfigOptions): string[] {
  const httpBase = o.httpBootUrl ?? o.url;
  const ipxe =
    o.ipxeClients === 'binary'
      ? "iPXE itself (option 175 / user class iPXE, e.g. a NIC ROM that is iPXE): its architecture's binary, like any PXE client; the binaries' embedded script ignores a DHCP filename, so they do not load themselves again"
      : o.url
        ? `iPXE itself (option 175 / user class iPXE): no binary, the boot script ${scriptUrl(o.url)} (a stock iPXE never loads a binary again, so it cannot loop)`
        : 'iPXE itself (option 175 / user class iPXE): no binary and no filename (give --boot-url to hand it the boot script URL); it cannot loop';
  return [
    `BIOS PXE (option 93 = 0): TFTP ${IPXE_FILES.bios}`,
    `x86_64 UEFI (option 93 = 7 or 9): TFTP ${efiX86File(o)}`,
    `arm64 UEFI (option 93 = 11): TFTP ${IPXE_FILES['efi-arm64']}`,
    httpBase
      ? o.proxy
        ? 'UEFI HTTP Boot (option 93 = 16 / 19): not answered by proxyDHCP (the firmware asks as HTTPClient; the existing DHCP server has to send the URL, see docs/booting/dhcp.md)'
        : `UEFI HTTP Boot (option 93 = 16 / 19): vendor class HTTPClient and ${binaryUrl(httpBase, efiX86File(o))} / ${binaryUrl(httpBase, IPXE_FILES['efi-arm64'])}`
      : 'UEFI HTTP Boot (option 93 = 16 / 19): not configured (give --boot-url or --http-boot-url)',
    ipxe,
  ];
}

function header(o: DhcpConfigOptions, comment: string): string {
  return [`Generated by: netboot ipxe dhcp --${o.server}${o.proxy ? ' --proxy' : ''}`, 'What each client gets:', ...summaryLines(o).map((l) => `  - ${l}`)].map((l) => `${comment} ${l}`).join('\n');
}

/** dnsmasq (2.80 or later): a full DHCP + TFTP server, or proxyDHCP + TFTP. DNS off (port=0). */
export function renderDnsmasq(o: DhcpConfigOptions): string {
  checkOptions(o);
  const lines: string[] = [header(o, '#'), '', '# DHCP and TFTP only: no DNS server.', 'port=0'];
  if (o.interface) lines.push(`interface=${o.interface}`, 'bind-interfaces');
  if (o.proxy) {
    const s = o.subnet as { network: string; prefix: number };
    lines.push('', '# proxyDHCP: the existing DHCP server hands out addresses; this adds the boot information.', `dhcp-range=${s.network},proxy,${netmaskOf(s.prefix)}`);
  } else {
    const r = o.range as { start: string; end: string };
    lines.push('', `dhcp-range=${r.start},${r.end}${o.subnet ? `,${netmaskOf(o.subnet.prefix)}` : ''},${o.leaseSeconds}s`, 'dhcp-authoritative');
    if (o.router) lines.push(`dhcp-option=option:router,${o.router}`);
    if (o.dns?.length) lines.push(`dhcp-option=option:dns-server,${o.dns.join(',')}`);
  }
  lines.push('', 'enable-tftp', `tftp-root=${o.tftpRoot}`, '');
  lines.push('# Client architecture, DHCP option 93.');
  for (const [tag, codes] of Object.entries(CLIENT_ARCH)) for (const code of codes) lines.push(`dhcp-match=set:${tag},option:client-arch,${code}`);
  lines.push('# iPXE already running: it sends option 175 and user class "iPXE".', 'dhcp-match=set:ipxe,175', 'dhcp-userclass=set:ipxe,iPXE', '');

  const notIpxe = o.ipxeClients === 'script' ? 'tag:!ipxe,' : '';
  const tftp: [string, string, IpxeFile][] = [
    ['bios', 'x86PC', IPXE_FILES.bios],
    ['efi-x86_64', 'x86-64_EFI', efiX86File(o)],
    ['efi-arm64', 'ARM64_EFI', IPXE_FILES['efi-arm64']],
  ];
  if (o.proxy) {
    // proxyDHCP answers PXE clients with pxe-service (the PXE boot server protocol), not dhcp-boot.
    // 9 is "EFI BC", which some x86_64 firmware sends; dnsmasq calls it BC_EFI.
    lines.push('# PXE clients that are not iPXE yet: the binary for their architecture, by TFTP from here.');
    for (const [, csa, file] of tftp) lines.push(`pxe-service=${notIpxe}${csa},"netboot iPXE",${file}`);
    lines.push(`pxe-service=${notIpxe}BC_EFI,"netboot iPXE",${efiX86File(o)}`);
    if (o.ipxeClients === 'script' && o.url) {
      lines.push('# iPXE already running: the boot script on the front door, never a binary.');
      for (const csa of ['x86PC', 'x86-64_EFI', 'BC_EFI', 'ARM64_EFI']) lines.push(`pxe-service=tag:ipxe,${csa},"netboot",${scriptUrl(o.url)}`);
    }
  } else {
    lines.push('# PXE clients: the binary for their architecture, by TFTP from here.');
    for (const [tag, , file] of tftp) lines.push(`dhcp-boot=${notIpxe}tag:${tag},${file}`);
    if (o.ipxeClients === 'script' && o.url) lines.push('# iPXE already running: the boot script on the front door, never a binary.', `dhcp-boot=tag:ipxe,${scriptUrl(o.url)}`);
    const httpBase = o.httpBootUrl ?? o.url;
    if (httpBase) {
      lines.push('', '# UEFI HTTP Boot: the firmware fetches the published binary from the front door (GET /ipxe/FILE); no TFTP.');
      for (const [tag, file] of [['http-x86_64', efiX86File(o)], ['http-arm64', IPXE_FILES['efi-arm64']]] as const) {
        lines.push(`dhcp-option-force=tag:${tag},option:vendor-class,HTTPClient`, `dhcp-boot=tag:${tag},${binaryUrl(httpBase, file)}`);
      }
    }
  }
  return `${lines.join('\n')}\n`;
}

/** ISC dhcpd (4.x) as the full DHCP server; TFTP from --tftp-server. */
export function renderIsc(o: DhcpConfigOptions): string {
  checkOptions(o);
  const s = o.subnet as { network: string; prefix: number };
  const r = o.range as { start: string; end: string };
  const q = (v: string) => `"${v}"`;
  const httpBase = o.httpBootUrl ?? o.url;
  const arch = (codes: readonly number[]) => codes.map((c) => `option netboot-client-arch = ${c}`).join(' or ');
  // One if / elsif chain: the first matching branch sets the filename.
  const branches: [condition: string, statements: string[]][] = [];
  if (o.ipxeClients === 'script') {
    branches.push([
      'exists netboot-ipxe-encap or option user-class = "iPXE"',
      ['# iPXE already running: the boot script on the front door, never a binary.', o.url ? `filename ${q(scriptUrl(o.url))};` : '# no --boot-url: no filename, so it cannot loop'],
    ]);
  }
  branches.push([arch(CLIENT_ARCH.bios), [`filename ${q(IPXE_FILES.bios)};`]]);
  branches.push([arch(CLIENT_ARCH['efi-x86_64']), [`filename ${q(efiX86File(o))};`]]);
  branches.push([arch(CLIENT_ARCH['efi-arm64']), [`filename ${q(IPXE_FILES['efi-arm64'])};`]]);
  if (httpBase) {
    for (const [codes, file] of [[CLIENT_ARCH['http-x86_64'], efiX86File(o)], [CLIENT_ARCH['http-arm64'], IPXE_FILES['efi-arm64']]] as const) {
      branches.push([arch(codes), ['# UEFI HTTP Boot: the published binary from the front door (GET /ipxe/FILE); no TFTP.', 'option vendor-class-identifier "HTTPClient";', `filename ${q(binaryUrl(httpBase, file))};`]]);
    }
  }
  const chain = branches.flatMap(([condition, statements], i) => [`${i === 0 ? 'if' : '} elsif'} ${condition} {`, ...statements.map((st) => `  ${st}`)]);
  chain.push('}');
  const lines = [
    header(o, '#'),
    '',
    'option netboot-client-arch code 93 = unsigned integer 16;',
    'option netboot-ipxe-encap code 175 = string;',
    'authoritative;',
    `default-lease-time ${o.leaseSeconds};`,
    `max-lease-time ${o.leaseSeconds};`,
    '',
    `# TFTP: ${o.tftpServer} serves ${o.tftpRoot} (for example: dnsmasq --port=0 --enable-tftp --tftp-root=${o.tftpRoot}).`,
    `subnet ${s.network} netmask ${netmaskOf(s.prefix)} {`,
    `  range ${r.start} ${r.end};`,
    ...(o.router ? [`  option routers ${o.router};`] : []),
    ...(o.dns?.length ? [`  option domain-name-servers ${o.dns.join(', ')};`] : []),
    `  next-server ${o.tftpServer};`,
    ...chain.map((l) => `  ${l}`),
    '}',
  ];
  return `${lines.join('\n')}\n`;
}

/** Kea DHCPv4 (2.x) as the full DHCP server: client classes by option 93; TFTP from --tftp-server. */
export function renderKea(o: DhcpConfigOptions): string {
  checkOptions(o);
  const s = o.subnet as { network: string; prefix: number };
  const r = o.range as { start: string; end: string };
  const httpBase = o.httpBootUrl ?? o.url;
  const archTest = (codes: readonly number[]) => `(${codes.map((c) => `option[93].hex == 0x${c.toString(16).padStart(4, '0')}`).join(' or ')})`;
  const ipxeTest = "(option[175].exists or option[77].hex == 'iPXE')";
  const notIpxe = o.ipxeClients === 'script' ? ` and not ${ipxeTest}` : '';
  const classes: Record<string, unknown>[] = [];
  if (o.ipxeClients === 'script' && o.url) classes.push({ name: 'netboot-ipxe', test: ipxeTest, 'boot-file-name': scriptUrl(o.url) });
  for (const [name, codes, file] of [
    ['netboot-bios', CLIENT_ARCH.bios, IPXE_FILES.bios],
    ['netboot-efi-x86_64', CLIENT_ARCH['efi-x86_64'], efiX86File(o)],
    ['netboot-efi-arm64', CLIENT_ARCH['efi-arm64'], IPXE_FILES['efi-arm64']],
  ] as const) {
    classes.push({ name, test: `${archTest(codes)}${notIpxe}`, 'next-server': o.tftpServer, 'boot-file-name': file });
  }
  if (httpBase) {
    for (const [name, codes, file] of [
      ['netboot-http-x86_64', CLIENT_ARCH['http-x86_64'], efiX86File(o)],
      ['netboot-http-arm64', CLIENT_ARCH['http-arm64'], IPXE_FILES['efi-arm64']],
    ] as const) {
      classes.push({ name, test: archTest(codes), 'boot-file-name': binaryUrl(httpBase, file), 'option-data': [{ name: 'vendor-class-identifier', data: 'HTTPClient' }] });
    }
  }
  const config = {
    Dhcp4: {
      'interfaces-config': { interfaces: [o.interface ?? '*'] },
      'lease-database': { type: 'memfile', 'lfc-interval': 3600 },
      'valid-lifetime': o.leaseSeconds,
      'client-classes': classes,
      subnet4: [
        {
          subnet: `${s.network}/${s.prefix}`,
          pools: [{ pool: `${r.start} - ${r.end}` }],
          'option-data': [
            ...(o.router ? [{ name: 'routers', data: o.router }] : []),
            ...(o.dns?.length ? [{ name: 'domain-name-servers', data: o.dns.join(', ') }] : []),
          ],
        },
      ],
    },
  };
  // Kea reads JSON with comments (#, //): the summary travels with the file.
  return `${header(o, '//')}\n// TFTP: ${o.tftpServer} serves ${o.tftpRoot}.\n${JSON.stringify(config, null, 2)}\n`;
}

export function renderDhcpConfig(o: DhcpConfigOptions): string {
  switch (o.server) {
    case 'dnsmasq':
      return renderDnsmasq(o);
    case 'isc':
      return renderIsc(o);
    case 'kea':
      return renderKea(o);
  }
}

interface CommandOptions {
  dnsmasq?: boolean;
  isc?: boolean;
  kea?: boolean;
  proxy?: boolean;
  tftpRoot: string;
  tftpServer?: string;
  interface?: string;
  subnet?: string;
  range?: string;
  router?: string;
  dns?: string[];
  leaseTime: string;
  bootUrl?: string;
  httpBootUrl?: string;
  efiX86_64: 'snponly' | 'ipxe';
  ipxeClients: 'script' | 'binary';
}

/** The command's options as rendering options (DhcpConfigError for what is wrong). */
export function optionsFromCommand(c: CommandOptions): DhcpConfigOptions {
  const servers = (['dnsmasq', 'isc', 'kea'] as const).filter((s) => c[s]);
  if (servers.length !== 1) throw new DhcpConfigError('give exactly one of --dnsmasq, --isc, --kea');
  const o: DhcpConfigOptions = {
    server: servers[0] as DhcpServer,
    proxy: Boolean(c.proxy),
    tftpRoot: c.tftpRoot,
    tftpServer: c.tftpServer,
    interface: c.interface,
    subnet: c.subnet === undefined ? undefined : parseSubnet(c.subnet),
    range: c.range === undefined ? undefined : parseRange(c.range),
    router: c.router,
    dns: c.dns,
    leaseSeconds: Number(c.leaseTime),
    url: c.bootUrl,
    httpBootUrl: c.httpBootUrl,
    efiX86_64: c.efiX86_64,
    ipxeClients: c.ipxeClients,
  };
  checkOptions(o);
  return o;
}

/** Files a TFTP client would be sent that the directory lacks (a warning, not an error: the build may come later). */
export function missingFiles(o: DhcpConfigOptions): string[] {
  return [IPXE_FILES.bios, efiX86File(o), IPXE_FILES['efi-arm64'], 'manifest.json'].filter((f) => !existsSync(join(o.tftpRoot, f)));
}

/**
 * The front door the binaries in the TFTP root chain (manifest.json's url), when it is not the
 * one --boot-url names: iPXE clients and HTTP Boot would then go elsewhere than the binaries.
 */
export function frontDoorMismatch(o: DhcpConfigOptions): string | undefined {
  if (!o.url) return undefined;
  let built: unknown;
  try {
    built = (JSON.parse(readFileSync(join(o.tftpRoot, 'manifest.json'), 'utf8')) as { url?: unknown }).url;
  } catch {
    return undefined; // no manifest (reported as missing) or not ours
  }
  return typeof built === 'string' && trimSlash(built) !== trimSlash(o.url) ? built : undefined;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

/** `netboot ipxe dhcp`; `onError` turns DhcpConfigError into the CLI's usage error. */
export function ipxeDhcpCommand(write: (text: string) => void, warn: (text: string) => void, onError: (e: DhcpConfigError) => never): Command {
  return new Command('dhcp')
    .description('print DHCP configuration that hands each client architecture its iPXE binary (dnsmasq, ISC dhcpd or Kea; full server or dnsmasq proxyDHCP)')
    .option('--dnsmasq', 'dnsmasq configuration (full DHCP + TFTP, or with --proxy proxyDHCP + TFTP)')
    .option('--isc', 'ISC dhcpd configuration (full DHCP; TFTP from --tftp-server)')
    .option('--kea', 'Kea DHCPv4 configuration (full DHCP; TFTP from --tftp-server)')
    .option('--proxy', 'proxyDHCP beside the network’s existing DHCP server (dnsmasq only)')
    .requiredOption('--tftp-root <dir>', 'the `netboot ipxe build` output directory served by TFTP')
    .option('--tftp-server <ip>', 'ISC / Kea: the TFTP server’s address (next-server)')
    .option('--interface <if>', 'the interface to serve (dnsmasq: binds to it only; Kea: default all)')
    .option('--subnet <cidr>', 'the boot network, e.g. 192.0.2.0/24 (required for --proxy, --isc, --kea)')
    .option('--range <start,end>', 'address pool of a full DHCP server, e.g. 192.0.2.100,192.0.2.199')
    .option('--router <ip>', 'default gateway handed out (option 3)')
    .option('--dns <ip>', 'DNS server handed out (option 6; repeatable)', collect)
    .option('--lease-time <seconds>', 'lease time', '3600')
    .option('--boot-url <url>', 'the front door machines boot from (base URL): iPXE clients get its boot script URL; UEFI HTTP Boot gets URL/ipxe/FILE')
    .option('--http-boot-url <url>', 'base URL UEFI HTTP Boot fetches /ipxe/FILE from (default: --boot-url)')
    .addOption(new Option('--efi-x86_64 <build>', 'x86_64 UEFI binary: snponly (the firmware’s NIC driver) or ipxe (iPXE’s own drivers)').choices(['snponly', 'ipxe']).default('snponly'))
    .addOption(
      new Option('--ipxe-clients <what>', 'what a client that is already iPXE (option 175 / user class iPXE) gets: script (the boot script URL, never a binary) or binary (for NIC ROMs that are iPXE, e.g. QEMU/KVM)')
        .choices(['script', 'binary'])
        .default('script'),
    )
    .action((c: CommandOptions) => {
      let o: DhcpConfigOptions;
      try {
        o = optionsFromCommand(c);
      } catch (e) {
        if (e instanceof DhcpConfigError) onError(e);
        throw e;
      }
      const missing = missingFiles(o);
      if (missing.length) warn(`netboot: note: ${o.tftpRoot} lacks ${missing.join(', ')} (run npx netboot ipxe build --out ${o.tftpRoot})`);
      const built = frontDoorMismatch(o);
      if (built) warn(`netboot: note: the binaries in ${o.tftpRoot} chain ${built} (manifest.json), but --boot-url is ${o.url}`);
      write(renderDhcpConfig(o));
    });
}
