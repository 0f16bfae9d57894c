// `netboot ipxe dhcp`: what it prints is judged by the DHCP servers themselves (dnsmasq --test,
// dhcpd -t, kea-dhcp4 -t), and the dnsmasq configuration is started for real in a network
// namespace, where a small DHCP client (test/helpers/dhcp-probe.mjs) asks as each kind of
// machine would and reads the filename it is handed. The daemons come from
// scripts/e2e/prepare-dhcp.sh; without them (or, for the namespace, without root) the parts
// that need them are skipped with the reason; in CI a skip is a failure.
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DhcpConfigError, netmaskOf, parseRange, parseSubnet, renderDhcpConfig, renderDnsmasq, renderIsc, renderKea, type DhcpConfigOptions } from '../cli/ipxe/dhcp';
import { runNetboot } from './helpers/cli';

const run = promisify(execFile);
const REPO = resolve(__dirname, '..');
const PROBE = join(REPO, 'test/helpers/dhcp-probe.mjs');

const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd} || test -x /usr/sbin/${cmd}`]).status === 0;
const daemons = ['dnsmasq', 'dhcpd', 'kea-dhcp4'];

function prepare(): { ok: true } | { ok: false; reason: string } {
  if (daemons.every(has)) return { ok: true };
  const res = spawnSync('bash', [join(REPO, 'scripts/e2e/prepare-dhcp.sh')], { encoding: 'utf8', timeout: 900_000 });
  if (res.status !== 0) return { ok: false, reason: `prepare-dhcp.sh failed: ${(res.stderr || res.stdout || String(res.error)).trim().split('\n').slice(-3).join(' / ')}` };
  const missing = daemons.filter((d) => !has(d));
  return missing.length ? { ok: false, reason: `still missing after prepare-dhcp.sh: ${missing.join(', ')}` } : { ok: true };
}

function skipped(what: string, reason: string): void {
  const message = `${what} skipped: ${reason}`;
  if (process.env.CI) throw new Error(`${message} (CI must run them)`);
  process.stdout.write(`\n${message}\n`);
}

const tools = prepare();
if (!tools.ok) skipped('DHCP configuration checks by the real daemons', tools.reason);
const canNetns = tools.ok && process.getuid?.() === 0 && spawnSync('ip', ['netns', 'list']).status === 0;
if (tools.ok && !canNetns) skipped('dnsmasq in a network namespace', 'needs root and ip netns');

const dir = mkdtempSync(join(tmpdir(), 'netboot-ipxe-dhcp-'));
chmodSync(dir, 0o755); // dnsmasq reads the TFTP root as nobody
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A build directory's binaries: distinct random bytes each, so the TFTP check knows which it got. */
const binaries: Record<string, Buffer> = Object.fromEntries(['undionly.kpxe', 'ipxe-x86_64.efi', 'snponly-x86_64.efi', 'snponly-arm64.efi'].map((f) => [f, randomBytes(20_000 + f.length * 313)]));
for (const [f, b] of Object.entries(binaries)) writeFileSync(join(dir, f), b, { mode: 0o644 });
writeFileSync(join(dir, 'manifest.json'), JSON.stringify({ files: [] }), { mode: 0o644 });
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

const base: DhcpConfigOptions = {
  server: 'dnsmasq',
  proxy: false,
  tftpRoot: dir,
  subnet: { network: '192.0.2.0', prefix: 24 },
  range: { start: '192.0.2.100', end: '192.0.2.199' },
  leaseSeconds: 3600,
  efiX86_64: 'snponly',
  ipxeClients: 'script',
};
const url = 'https://boot.example.test:8443/netboot';
const script = `${url}/boot.ipxe?mac=\${net0/mac}&arch=\${buildarch}&platform=\${platform}`;

describe('--subnet and --range', () => {
  it('parse networks and pools, and say what is wrong with the rest', () => {
    expect(parseSubnet('192.0.2.0/24')).toEqual({ network: '192.0.2.0', prefix: 24 });
    expect(parseSubnet('10.0.0.0/8')).toEqual({ network: '10.0.0.0', prefix: 8 });
    expect([netmaskOf(24), netmaskOf(20), netmaskOf(32), netmaskOf(0)]).toEqual(['255.255.255.0', '255.255.240.0', '255.255.255.255', '0.0.0.0']);
    expect(() => parseSubnet('192.0.2.1/24')).toThrow('host bits are set (the network is 192.0.2.0/24)');
    expect(() => parseSubnet('192.0.2.0/33')).toThrow(DhcpConfigError);
    expect(() => parseSubnet('fd00::/64')).toThrow(DhcpConfigError);
    expect(parseRange('192.0.2.100, 192.0.2.199')).toEqual({ start: '192.0.2.100', end: '192.0.2.199' });
    expect(() => parseRange('192.0.2.199,192.0.2.100')).toThrow('START comes after END');
    expect(() => parseRange('192.0.2.100')).toThrow('--range must be START,END');
  });
});

describe('what each client is handed (the renderings)', () => {
  it('dnsmasq, full server: the binary per option 93 for PXE clients, the script URL for iPXE, HTTPClient and the /ipxe/ URL for HTTP Boot', () => {
    const text = renderDnsmasq({ ...base, url, interface: 'br0', router: '192.0.2.1', dns: ['192.0.2.53'] });
    for (const line of [
      'dhcp-range=192.0.2.100,192.0.2.199,255.255.255.0,3600s',
      'interface=br0',
      'dhcp-match=set:bios,option:client-arch,0',
      'dhcp-match=set:efi-x86_64,option:client-arch,7',
      'dhcp-match=set:efi-x86_64,option:client-arch,9',
      'dhcp-match=set:efi-arm64,option:client-arch,11',
      'dhcp-match=set:ipxe,175',
      'dhcp-userclass=set:ipxe,iPXE',
      'dhcp-boot=tag:!ipxe,tag:bios,undionly.kpxe',
      'dhcp-boot=tag:!ipxe,tag:efi-x86_64,snponly-x86_64.efi',
      'dhcp-boot=tag:!ipxe,tag:efi-arm64,snponly-arm64.efi',
      `dhcp-boot=tag:ipxe,${script}`,
      'dhcp-option-force=tag:http-x86_64,option:vendor-class,HTTPClient',
      `dhcp-boot=tag:http-x86_64,${url}/ipxe/snponly-x86_64.efi`,
      `dhcp-boot=tag:http-arm64,${url}/ipxe/snponly-arm64.efi`,
      'dhcp-option=option:router,192.0.2.1',
      'dhcp-option=option:dns-server,192.0.2.53',
      'port=0',
    ]) {
      expect(text.split('\n')).toContain(line);
    }
  });

  it('--ipxe-clients binary hands iPXE (a NIC ROM) the binary too; --efi-x86_64 ipxe picks ipxe.efi', () => {
    const text = renderDnsmasq({ ...base, url, ipxeClients: 'binary', efiX86_64: 'ipxe' });
    expect(text).toContain('dhcp-boot=tag:bios,undionly.kpxe\n');
    expect(text).toContain('dhcp-boot=tag:efi-x86_64,ipxe-x86_64.efi\n');
    expect(text).toContain(`dhcp-boot=tag:http-x86_64,${url}/ipxe/ipxe-x86_64.efi\n`);
    expect(text).not.toContain('tag:!ipxe');
    expect(text).not.toContain('boot.ipxe');
  });

  it('without a front-door URL, iPXE gets no filename at all and HTTP Boot is not configured', () => {
    const text = renderDnsmasq(base);
    expect(text).not.toMatch(/^dhcp-boot=tag:ipxe,/m);
    expect(text).not.toContain('HTTPClient\n');
    expect(text).toMatch(/iPXE itself .*no binary and no filename/);
  });

  it('dnsmasq proxyDHCP: no addresses, PXE boot services per architecture, no HTTP Boot', () => {
    const text = renderDnsmasq({ ...base, proxy: true, range: undefined, url });
    expect(text).toContain('dhcp-range=192.0.2.0,proxy,255.255.255.0\n');
    expect(text).toContain('pxe-service=tag:!ipxe,x86PC,"netboot iPXE",undionly.kpxe\n');
    expect(text).toContain('pxe-service=tag:!ipxe,ARM64_EFI,"netboot iPXE",snponly-arm64.efi\n');
    expect(text).toContain(`pxe-service=tag:ipxe,x86PC,"netboot",${script}\n`);
    expect(text).not.toMatch(/^dhcp-boot=/m);
    expect(text).not.toMatch(/^dhcp-option-force=.*HTTPClient/m);
  });

  it('ISC and Kea: the same choices as an if/elsif chain and as client classes', () => {
    const opts = { ...base, url, tftpServer: '192.0.2.1' };
    const isc = renderIsc({ ...opts, server: 'isc' });
    expect(isc).toContain(`if exists netboot-ipxe-encap or option user-class = "iPXE" {\n    # iPXE already running: the boot script on the front door, never a binary.\n    filename "${script}";`);
    expect(isc).toContain('} elsif option netboot-client-arch = 7 or option netboot-client-arch = 9 {\n    filename "snponly-x86_64.efi";');
    expect(isc).toContain(`option vendor-class-identifier "HTTPClient";\n    filename "${url}/ipxe/snponly-arm64.efi";`);
    const kea = JSON.parse(renderKea({ ...opts, server: 'kea' }).replace(/^\/\/.*$/gm, '')) as { Dhcp4: { 'client-classes': { name: string; test: string; 'boot-file-name': string }[] } };
    expect(kea.Dhcp4['client-classes'].map((c) => [c.name, c['boot-file-name']])).toEqual([
      ['netboot-ipxe', script],
      ['netboot-bios', 'undionly.kpxe'],
      ['netboot-efi-x86_64', 'snponly-x86_64.efi'],
      ['netboot-efi-arm64', 'snponly-arm64.efi'],
      ['netboot-http-x86_64', `${url}/ipxe/snponly-x86_64.efi`],
      ['netboot-http-arm64', `${url}/ipxe/snponly-arm64.efi`],
    ]);
    expect(kea.Dhcp4['client-classes'][1]?.test).toBe("(option[93].hex == 0x0000) and not (option[175].exists or option[77].hex == 'iPXE')");
  });

  it.each<[string, Partial<DhcpConfigOptions>, RegExp]>([
    ['ISC as proxyDHCP', { server: 'isc', proxy: true, range: undefined, tftpServer: '192.0.2.1' }, /ISC dhcpd cannot be a proxyDHCP server/],
    ['Kea as proxyDHCP', { server: 'kea', proxy: true, range: undefined, tftpServer: '192.0.2.1' }, /Kea cannot be a proxyDHCP server/],
    ['proxy without a subnet', { proxy: true, range: undefined, subnet: undefined }, /--proxy needs --subnet/],
    ['proxy with a range', { proxy: true }, /drop --range/],
    ['a full server without a range', { range: undefined }, /needs --range/],
    ['a range outside the subnet', { range: { start: '192.0.2.100', end: '198.51.100.9' } }, /198\.51\.100\.9 is outside --subnet/],
    ['ISC without a TFTP server', { server: 'isc' }, /--isc needs --tftp-server/],
    ['an URL that is not http(s)', { url: 'tftp://x/y' }, /--boot-url must be an http\(s\) URL/],
    ['an URL with a comma (dnsmasq field separator)', { url: 'https://a,b' }, /--boot-url must be/],
    ['a TFTP root with a space', { tftpRoot: '/srv/my tftp' }, /--tftp-root must be a path/],
    ['a router outside the subnet', { router: '10.0.0.1' }, /--router 10\.0\.0\.1 is outside/],
  ])('%s is refused with what to change', (_name, change, message) => {
    expect(() => renderDhcpConfig({ ...base, ...change })).toThrow(DhcpConfigError);
    expect(() => renderDhcpConfig({ ...base, ...change })).toThrow(message);
  });
});

/** Each server's own configuration check: exit status and what it said. */
async function check(server: 'dnsmasq' | 'isc' | 'kea', text: string): Promise<{ ok: boolean; output: string }> {
  const file = join(dir, `check-${randomBytes(4).toString('hex')}.conf`);
  writeFileSync(file, text);
  const cmd = { dnsmasq: ['dnsmasq', '--test', `--conf-file=${file}`], isc: ['dhcpd', '-t', '-cf', file], kea: ['kea-dhcp4', '-t', file] }[server];
  try {
    const { stdout, stderr } = await run(cmd[0] as string, cmd.slice(1), { timeout: 30_000 });
    return { ok: true, output: stdout + stderr };
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string };
    return { ok: false, output: `${err.stdout ?? ''}${err.stderr ?? ''}` };
  }
}

describe.skipIf(!tools.ok)('each rendering passes the real daemon’s own check', () => {
  const variants: [string, Partial<DhcpConfigOptions>][] = [
    ['defaults', {}],
    ['with the front door', { url }],
    ['iPXE clients get the binary', { url, ipxeClients: 'binary' }],
    ['ipxe.efi for x86_64 UEFI, router and DNS', { url, efiX86_64: 'ipxe', router: '192.0.2.1', dns: ['192.0.2.53', '192.0.2.54'] }],
    ['HTTP Boot from another host', { url, httpBootUrl: 'https://ilb.example.test/' }],
  ];
  const cases = [
    ...variants.map(([name, v]) => ['dnsmasq', `full, ${name}`, { ...v, interface: 'lo' }] as const),
    ...variants.map(([name, v]) => ['dnsmasq', `proxy, ${name}`, { ...v, proxy: true, range: undefined }] as const),
    ...variants.map(([name, v]) => ['isc', name, { ...v, tftpServer: '192.0.2.1' }] as const),
    ...variants.map(([name, v]) => ['kea', name, { ...v, tftpServer: '192.0.2.1', interface: 'lo' }] as const),
  ];

  it.each(cases)('%s: %s', async (server, _name, change) => {
    const result = await check(server, renderDhcpConfig({ ...base, ...change, server }));
    expect(result.output && result.ok, result.output).toBe(true);
  });

  // The checks are real: a broken file fails them, so a pass above means something.
  it.each([
    ['dnsmasq', renderDnsmasq({ ...base, url }).replace('dhcp-boot=tag:ipxe,', 'dhcp-bootfile=tag:ipxe,')],
    ['isc', renderIsc({ ...base, url, server: 'isc', tftpServer: '192.0.2.1' }).replace('} elsif', 'elsif')],
    ['kea', renderKea({ ...base, url, server: 'kea', tftpServer: '192.0.2.1' }).replace("option[93].hex == 0x0000", 'option[93].hex ==')],
  ] as const)('%s refuses a broken file', async (server, text) => {
    expect((await check(server, text)).ok).toBe(false);
  });
});

describe('the command', () => {
  it('prints the rendering, and says which binaries the TFTP root lacks', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'netboot-ipxe-dhcp-empty-'));
    try {
      const args = ['ipxe', 'dhcp', '--dnsmasq', '--tftp-root', empty, '--subnet', '192.0.2.0/24', '--range', '192.0.2.100,192.0.2.199', '--boot-url', url, '--interface', 'br0'];
      const res = await runNetboot(args, {});
      expect(res.code, res.stderr).toBe(0);
      expect(res.stdout).toBe(renderDnsmasq({ ...base, tftpRoot: empty, url, interface: 'br0' }));
      expect(res.stderr).toContain(`${empty} lacks undionly.kpxe, snponly-x86_64.efi, snponly-arm64.efi, manifest.json`);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  }, 120_000);

  it('notes when the binaries chain another front door than --boot-url', async () => {
    const other = mkdtempSync(join(tmpdir(), 'netboot-ipxe-dhcp-other-'));
    try {
      writeFileSync(join(other, 'manifest.json'), JSON.stringify({ url: 'https://10.20.0.5/', files: [] }));
      const args = ['ipxe', 'dhcp', '--dnsmasq', '--tftp-root', other, '--range', '192.0.2.100,192.0.2.199'];
      const differs = await runNetboot([...args, '--boot-url', url], {});
      expect(differs.code, differs.stderr).toBe(0);
      expect(differs.stderr).toContain(`the binaries in ${other} chain https://10.20.0.5/ (manifest.json), but --boot-url is ${url}`);
      const same = await runNetboot([...args, '--boot-url', 'https://10.20.0.5'], {});
      expect(same.code, same.stderr).toBe(0);
      expect(same.stderr).not.toContain('chain');
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  }, 120_000);

  it('a choice the servers cannot make is a usage error (exit 2) naming the way out', async () => {
    const res = await runNetboot(['ipxe', 'dhcp', '--kea', '--proxy', '--tftp-root', dir, '--subnet', '192.0.2.0/24'], {});
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/Kea cannot be a proxyDHCP server. Use --dnsmasq --proxy/);
    const two = await runNetboot(['ipxe', 'dhcp', '--kea', '--isc', '--tftp-root', dir], {});
    expect(two.code).toBe(2);
    expect(two.stderr).toMatch(/exactly one of --dnsmasq, --isc, --kea/);
  }, 120_000);
});

interface Offer {
  yiaddr: string;
  siaddr: string;
  file: string;
  option67?: string;
  vendorClass?: string;
}
interface ProbeResult {
  probe: { arch: number; ipxe?: boolean };
  offer: Offer | null;
  boot?: Offer | null;
  tftp?: { size: number; sha256: string } | { error: string };
}

/** A veth pair between a server namespace (192.0.2.1) and a client namespace (192.0.2.250). */
class BootLan {
  readonly server = `nbdhcp${process.pid}s`;
  readonly client = `nbdhcp${process.pid}c`;
  readonly serverIf = `nbs${process.pid % 100000}`;
  readonly clientIf = `nbc${process.pid % 100000}`;
  private dnsmasq: ChildProcess | undefined;

  async create(): Promise<void> {
    await this.destroy();
    const ip = (...args: string[]) => run('ip', args);
    await ip('netns', 'add', this.server);
    await ip('netns', 'add', this.client);
    await ip('link', 'add', this.serverIf, 'type', 'veth', 'peer', 'name', this.clientIf);
    await ip('link', 'set', this.serverIf, 'netns', this.server);
    await ip('link', 'set', this.clientIf, 'netns', this.client);
    await ip('-n', this.server, 'addr', 'add', '192.0.2.1/24', 'dev', this.serverIf);
    await ip('-n', this.client, 'addr', 'add', '192.0.2.250/24', 'dev', this.clientIf);
    for (const [ns, dev] of [[this.server, this.serverIf], [this.client, this.clientIf], [this.server, 'lo'], [this.client, 'lo']] as const) await ip('-n', ns, 'link', 'set', dev, 'up');
    // The probe broadcasts to 255.255.255.255: it needs a route out of its interface.
    await ip('-n', this.client, 'route', 'add', 'default', 'dev', this.clientIf);
  }

  /** Starts dnsmasq with exactly the printed configuration; the command line adds only the run's own files. */
  async startDnsmasq(config: string, name: string): Promise<void> {
    await this.stopDnsmasq();
    const conf = join(dir, `${name}.conf`);
    writeFileSync(conf, config);
    const log = join(dir, `${name}.log`);
    // --no-ping: the address-in-use check waits up to 3 s per offer; nothing else shares this link.
    this.dnsmasq = spawn('ip', ['netns', 'exec', this.server, 'dnsmasq', '--keep-in-foreground', `--conf-file=${conf}`, `--pid-file=${join(dir, `${name}.pid`)}`, `--dhcp-leasefile=${join(dir, `${name}.leases`)}`, `--log-facility=${log}`, '--log-dhcp', '--no-ping'], { stdio: 'ignore' });
    const started = Date.now();
    while (!readLog(log).includes('TFTP root is')) {
      if (this.dnsmasq.exitCode !== null || Date.now() - started > 10_000) throw new Error(`dnsmasq did not start: ${readLog(log)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async probe(probes: ({ arch: number; ipxe?: boolean; tftp?: boolean })[]): Promise<ProbeResult[]> {
    const { stdout } = await run('ip', ['netns', 'exec', this.client, process.execPath, PROBE, JSON.stringify({ probes, timeoutMs: 6000, clientAddress: '192.0.2.250' })], { timeout: 120_000 });
    return stdout.trim().split('\n').map((l) => JSON.parse(l) as ProbeResult);
  }

  async stopDnsmasq(): Promise<void> {
    const child = this.dnsmasq;
    this.dnsmasq = undefined;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  }

  async destroy(): Promise<void> {
    await this.stopDnsmasq();
    for (const ns of [this.server, this.client]) await run('ip', ['netns', 'del', ns]).catch(() => undefined);
  }
}

const readLog = (path: string) => {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
};

describe.skipIf(!canNetns)('the printed dnsmasq configuration, running in a network namespace', () => {
  const lan = new BootLan();
  beforeAll(async () => {
    await lan.create();
  }, 60_000);
  afterAll(async () => {
    await lan.destroy();
  }, 60_000);

  const fileOf = (o: Offer | null | undefined) => o && (o.option67 ?? o.file);
  const tftpOf = (name: string) => ({ size: binaries[name]?.length, sha256: sha256(binaries[name] as Buffer) });

  it('full server: each option 93 gets its binary (BIOS fetched by TFTP), HTTP Boot the /ipxe/ URL with HTTPClient, iPXE the script URL', async () => {
    await lan.startDnsmasq(renderDnsmasq({ ...base, url, interface: lan.serverIf }), 'full');
    const results = await lan.probe([{ arch: 0, tftp: true }, { arch: 7, tftp: true }, { arch: 9 }, { arch: 11, tftp: true }, { arch: 16 }, { arch: 19 }, { arch: 0, ipxe: true }, { arch: 7, ipxe: true }]);
    const got = results.map((r) => [r.probe.arch, Boolean(r.probe.ipxe), fileOf(r.offer), r.offer?.vendorClass ?? null]);
    expect(got).toEqual([
      [0, false, 'undionly.kpxe', null],
      [7, false, 'snponly-x86_64.efi', null],
      [9, false, 'snponly-x86_64.efi', null],
      [11, false, 'snponly-arm64.efi', null],
      [16, false, `${url}/ipxe/snponly-x86_64.efi`, 'HTTPClient'],
      [19, false, `${url}/ipxe/snponly-arm64.efi`, 'HTTPClient'],
      [0, true, script, null],
      [7, true, script, null],
    ]);
    for (const r of results) if (!r.probe.ipxe) expect(r.offer?.yiaddr).toMatch(/^192\.0\.2\.1\d\d$/);
    expect(results[0]?.tftp).toEqual(tftpOf('undionly.kpxe'));
    expect(results[1]?.tftp).toEqual(tftpOf('snponly-x86_64.efi'));
    expect(results[3]?.tftp).toEqual(tftpOf('snponly-arm64.efi'));
  }, 120_000);

  it('with --ipxe-clients binary, a NIC ROM that is iPXE gets the binary for its architecture', async () => {
    await lan.startDnsmasq(renderDnsmasq({ ...base, url, interface: lan.serverIf, ipxeClients: 'binary' }), 'binary');
    const results = await lan.probe([{ arch: 0, ipxe: true }, { arch: 7, ipxe: true }, { arch: 11, ipxe: true }]);
    expect(results.map((r) => fileOf(r.offer))).toEqual(['undionly.kpxe', 'snponly-x86_64.efi', 'snponly-arm64.efi']);
  }, 120_000);

  it('proxyDHCP beside another server: no address, and PXE boot server discovery (port 4011) names the binary', async () => {
    await lan.startDnsmasq(renderDnsmasq({ ...base, proxy: true, range: undefined, url, interface: lan.serverIf }), 'proxy');
    const results = await lan.probe([{ arch: 0, tftp: true }, { arch: 7 }, { arch: 9 }, { arch: 11 }, { arch: 0, ipxe: true }, { arch: 7, ipxe: true }]);
    for (const r of results) expect(r.offer?.yiaddr).toBe('0.0.0.0');
    expect(results.map((r) => [r.probe.arch, Boolean(r.probe.ipxe), fileOf(r.boot)])).toEqual([
      [0, false, 'undionly.kpxe'],
      [7, false, 'snponly-x86_64.efi'],
      [9, false, 'snponly-x86_64.efi'],
      [11, false, 'snponly-arm64.efi'],
      [0, true, script],
      [7, true, script],
    ]);
    expect(results[0]?.tftp).toEqual(tftpOf('undionly.kpxe'));
  }, 120_000);
});
