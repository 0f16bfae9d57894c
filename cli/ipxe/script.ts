// The iPXE script embedded in every build (EMBED=): DHCP, the clock, the chain to the front door,
// and on failure a message an operator can act on, then a pause and a reboot.
import { IpxeBuildError } from './errors';

export interface ScriptOptions {
  /** The front door's base URL, already checked (see frontDoorUrl). */
  url: string;
  /** NTP server to ask; undefined: ask the one DHCP option 42 names, if any. */
  ntp?: string;
}

/** Attempts and pauses. A certificate refusal does not heal by retrying, so the counts stay small. */
export const SCRIPT_LIMITS = { dhcpAttempts: 5, chainAttempts: 4, retryDelaySeconds: 5, rebootAfterSeconds: 60 } as const;

/** Characters that would change the meaning of a line in an iPXE script (expansion, separators, comments). */
const UNSAFE_IN_SCRIPT = /[\s${}#;|&'"\\]/;

/**
 * The front door's base URL as the script uses it: https (or http with insecureHttp), no query or
 * fragment, no trailing slash, nothing iPXE's script parser would expand or split.
 */
export function frontDoorUrl(raw: string, insecureHttp = false): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new IpxeBuildError(`--url ${raw} is not a URL; expected https://FRONT-DOOR[/PATH]`, 'usage');
  }
  if (url.protocol === 'http:' && !insecureHttp) {
    throw new IpxeBuildError(
      `--url ${raw} is plain http: machines would take their boot script from whoever answers on the network. ` +
        'Use the https front door, or pass --insecure-http for a trusted boot network (the internal load balancer\'s HTTP door)',
      'usage',
    );
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new IpxeBuildError(`--url ${raw}: only https (or http with --insecure-http)`, 'usage');
  if (url.search || url.hash) throw new IpxeBuildError(`--url ${raw}: no query or fragment; the build appends /boot.ipxe?mac=...`, 'usage');
  if (url.username || url.password) throw new IpxeBuildError(`--url ${raw}: no credentials in the URL (they would sit in every binary)`, 'usage');
  const text = url.toString().replace(/\/+$/, '');
  if (UNSAFE_IN_SCRIPT.test(text)) throw new IpxeBuildError(`--url ${raw}: contains characters an iPXE script would expand or split`, 'usage');
  return text;
}

/** An NTP server name or address for `ntp SERVER`. */
export function ntpServer(raw: string): string {
  if (!/^[A-Za-z0-9.:-]+$/.test(raw)) throw new IpxeBuildError(`--ntp ${raw}: expected a host name or an IP address`, 'usage');
  return raw;
}

/** The chain URL: what the service's boot route reads (see the contract, GET /boot.ipxe). */
export function chainUrl(url: string): string {
  return `${url}/boot.ipxe?mac=\${net0/mac}&arch=\${buildarch}&platform=\${platform}`;
}

/** What common failures mean, printed after the last attempt (iPXE has already printed its own message). */
const MEANINGS = [
  'Permission denied (0216eb3c and others 02...): the certificate does not chain to a root built in',
  '  (--trust / --trust-google), has expired or is not yet valid (a wrong clock: --ntp or DHCP',
  '  option 42), names another host, or its OCSP responder is out of reach (build with --no-ocsp)',
  'Operation not supported (3c0920..): no HTTPS in this iPXE: boot this build, not the one in the firmware',
  'Connection timed out / refused, network unreachable (4c.., 0f.., 4c..): no route to the front',
  '  door from this network (routing, firewall, VPN), or nothing listens there',
  'No such host / DNS (3e..): the DHCP server gave no DNS server that resolves the front door',
  'No such file / Permission denied with an HTTP status (2d.., 0d..): the front door answered and',
  '  refused: unknown MAC, address outside the allowed CIDRs, or a wrong --url path',
];

/** The embedded script's text (an iPXE script: `#!ipxe` first). */
export function embeddedScript(opts: ScriptOptions): string {
  const { dhcpAttempts, chainAttempts, retryDelaySeconds, rebootAfterSeconds } = SCRIPT_LIMITS;
  const ntp = opts.ntp
    ? [`echo netboot: setting the clock by NTP from ${opts.ntp}`, `ntp ${opts.ntp} || echo netboot: NTP from ${opts.ntp} failed, certificates are checked against the clock as it is`]
    : [
        '# DHCP option 42 (NTP servers) asks for it: certificates are checked against the clock.',
        'isset ${ntp} || goto netboot_ntp_done',
        'echo netboot: setting the clock by NTP from ${ntp} (DHCP option 42)',
        'ntp ${ntp} || echo netboot: NTP from ${ntp} failed, certificates are checked against the clock as it is',
        ':netboot_ntp_done',
      ];
  return [
    '#!ipxe',
    `# Embedded by netboot ipxe build: DHCP, clock, then chain ${opts.url}/boot.ipxe.`,
    `echo netboot: iPXE \${version} \${buildarch}/\${platform} for ${opts.url}`,
    '',
    'set netboot_try:int32 0',
    ':netboot_dhcp',
    'inc netboot_try',
    'dhcp && goto netboot_dhcp_done ||',
    'set netboot_error ${errno:hexraw}',
    `iseq \${netboot_try} ${dhcpAttempts} && goto netboot_dhcp_failed ||`,
    `echo netboot: DHCP attempt \${netboot_try} of ${dhcpAttempts} failed, again in ${retryDelaySeconds} s`,
    `sleep ${retryDelaySeconds}`,
    'goto netboot_dhcp',
    ':netboot_dhcp_failed',
    'echo netboot: no DHCP answer on any interface (error ${netboot_error}, https://ipxe.org/${netboot_error})',
    'echo netboot: check the cable / VLAN and that a DHCP server (or proxyDHCP) serves this network',
    'goto netboot_reboot',
    ':netboot_dhcp_done',
    '',
    ...ntp,
    '',
    'set netboot_try:int32 0',
    ':netboot_chain',
    'inc netboot_try',
    `echo netboot: loading ${opts.url}/boot.ipxe (attempt \${netboot_try} of ${chainAttempts})`,
    `chain --autofree ${chainUrl(opts.url)} && goto netboot_done ||`,
    'set netboot_error ${errno:hexraw}',
    `iseq \${netboot_try} ${chainAttempts} && goto netboot_chain_failed ||`,
    `echo netboot: again in ${retryDelaySeconds} s`,
    `sleep ${retryDelaySeconds}`,
    'goto netboot_chain',
    ':netboot_chain_failed',
    'echo',
    `echo netboot: could not load ${opts.url}/boot.ipxe: error \${netboot_error} (https://ipxe.org/\${netboot_error})`,
    'echo netboot: what it usually means:',
    ...MEANINGS.map((line) => `echo ${line}`),
    '',
    ':netboot_reboot',
    `prompt --timeout ${rebootAfterSeconds * 1000} netboot: rebooting in ${rebootAfterSeconds} s, press a key for the iPXE shell && shell ||`,
    'reboot',
    ':netboot_done',
    '',
  ].join('\n');
}
