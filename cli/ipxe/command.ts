// `netboot ipxe build`: the command line over buildIpxe (cli/ipxe/build.ts).
import cliProgress from 'cli-progress';
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { buildIpxe, IpxeBuildError, planBuildTrust, planLines, type BuildEvent, type IpxeBuildResult } from './build';
import { PROBE_TIMEOUT_MS } from './door';
import { IPXE_TARGETS } from './targets';

const err = (s: string) => process.stderr.write(s.endsWith('\n') ? s : `${s}\n`);
const collect = (value: string, previous: string[] = []) => [...previous, value];

const HELP_AFTER = `
Trust: the binary trusts exactly the roots given (fingerprints built in with TRUST=, the
certificates carried with CERT=); it cannot be told to trust another one at boot time.
  --trust FILE      your front door's CA (the internal load balancer's, npm start -- --tls's)
  --trust-google    GTS Root R1-R4, GlobalSign Root CA and GlobalSign ECC Root CA - R4 from
                    Debian's ca-certificates: API Gateway and Storage (redirect mode) chain to them
A trust file may also hold cross-signed forms of its roots (a root's subject and key certified by
another CA); any other certificate that is not self-signed is refused.

The front door's chain: iPXE anchors a chain only at a certificate whose own fingerprint is built
in, so a root served cross-signed (Google sends GTS Root R1 signed by GlobalSign Root CA) is not
the root a build trusts unless that form is built in too. By default the build reads the chain
--url serves (TLS 1.2, ${PROBE_TIMEOUT_MS / 1000} s timeout, nothing verified), builds in any cross-signed form of a
trusted root it holds, and warns before compiling when this build would refuse the chain
(0216eb3c). A door out of reach is said in one line and the build goes on.
  --door-chain FILE the door's chain as PEM (openssl s_client -showcerts prints it) instead
  --no-probe        no connection: the trust given (and a --door-chain's forms) only
  --plan            print what would be trusted and the door's verdict, build nothing

OCSP (on unless --no-ocsp): iPXE asks each certificate's OCSP responder whether it was revoked.
That needs egress from the boot network to the CA's responder (Google's name o.pki.goog); without
it every HTTPS load fails. --no-ocsp drops the check: a revoked certificate is accepted until it
expires. Use it when the boot network has no egress (the VPN-only design).

Clock: certificates are checked against the machine's clock. The script sets it by NTP from
--ntp SERVER, else from the server DHCP option 42 names; with neither, the RTC must be right.

Example:
  npx netboot ipxe build --url https://boot.example.com --trust-google --no-ocsp --out ./ipxe
`;

/** `build`, for the program's `ipxe` group; globalUrl reads the program's --url (commander may hand it there). */
export function ipxeBuildCommand(globalUrl: (cmd: Command) => string | undefined): Command {
  return new Command('build')
    .description('build iPXE binaries that DHCP, set the clock, and chain URL/boot.ipxe over HTTPS trusting only the given roots')
    .option('--url <url>', 'the front door: https://HOST[/PATH] (the script chains URL/boot.ipxe?mac=...&arch=...&platform=...)')
    .option('--trust <roots.pem>', 'PEM file of roots to trust (several certificates allowed; repeatable)', collect)
    .option('--trust-google', "trust Google's roots (GTS Root R1-R4, GlobalSign) from Debian's ca-certificates")
    .option('--target <target>', `what to build (repeatable; default all of ${IPXE_TARGETS.join(', ')}): bios -> undionly.kpxe, efi-x86_64 -> ipxe-x86_64.efi + snponly-x86_64.efi, efi-arm64 -> snponly-arm64.efi`, collect)
    .option('--source <dir|tarball>', "iPXE's source: upstream's release tarball or a checkout (default: ../shared/vendor/ipxe-2.0.0.tar.gz when present)")
    .option('--out <dir>', 'where the binaries and manifest.json go', 'ipxe-out')
    .option('--no-ocsp', 'do not ask OCSP responders (for boot networks without egress; see below)')
    .option('--ntp <server>', 'set the clock from this NTP server (default: the one DHCP option 42 names, if any)')
    .option('--no-probe', "do not connect to --url to read its certificate chain (see below)")
    .option('--door-chain <chain.pem>', "the front door's chain, PEM, leaf first (as openssl s_client -showcerts prints it): used instead of connecting to --url")
    .option('--plan', 'print the trust plan (roots, cross-signed forms, the door chain verdict) and exit without building')
    .option('--insecure-http', 'allow an http:// URL: no server authentication, no privacy; anyone on the path can serve the machine a boot script. Only on a trusted boot network')
    .addHelpText('after', HELP_AFTER)
    .action(async (o: BuildFlags, cmd: Command) => {
      // The program's global --url (the admin API) shares the name; commander hands it to either.
      const url = o.url ?? globalUrl(cmd);
      if (!url) throw new IpxeBuildError('--url is required: the front door the machines chain, https://HOST[/PATH]', 'usage');
      if (o.insecureHttp && url.startsWith('http:')) err('netboot: --insecure-http: the boot script travels in clear text and no server is authenticated; anyone on the path can boot these machines into anything');
      const trustOptions = { url, trust: o.trust, trustGoogle: o.trustGoogle, insecureHttp: o.insecureHttp, probe: o.probe, ...doorChain(o.doorChain) };
      if (o.plan) {
        for (const line of planLines(await planBuildTrust(trustOptions))) process.stdout.write(`${line.warning ? 'warning: ' : ''}${line.text}\n`);
        return;
      }
      const progress = buildProgress(Boolean(process.stderr.isTTY));
      let result: IpxeBuildResult;
      try {
        result = await buildIpxe({ ...trustOptions, targets: o.target, source: o.source, out: o.out, ocsp: o.ocsp, ntp: o.ntp, onEvent: progress.event });
      } finally {
        progress.stop();
      }
      for (const f of result.manifest.files) process.stdout.write(`${result.outDir}/${f.name}  ${f.size} bytes  sha256 ${f.sha256}\n`);
      process.stdout.write(`${result.outDir}/manifest.json\n`);
    });
}

interface BuildFlags {
  url?: string;
  trust?: string[];
  trustGoogle?: boolean;
  target?: string[];
  source?: string;
  out: string;
  ocsp: boolean;
  ntp?: string;
  insecureHttp?: boolean;
  probe: boolean;
  doorChain?: string;
  plan?: boolean;
}

/** --door-chain FILE read (a file that cannot be read is a usage error, like --trust's). */
function doorChain(file: string | undefined): { doorChainPem?: string; doorChainSource?: string } {
  if (file === undefined) return {};
  try {
    return { doorChainPem: readFileSync(file, 'utf8'), doorChainSource: `--door-chain ${file}` };
  } catch (e) {
    throw new IpxeBuildError(`--door-chain ${file}: cannot read it (${(e as NodeJS.ErrnoException).code ?? String(e)})`, 'usage');
  }
}

/** Bars on a terminal; otherwise a line per step and one per tenth of a target's compile. */
function buildProgress(tty: boolean): { event: (e: BuildEvent) => void; stop: () => void } {
  const bars = tty ? new cliProgress.MultiBar({ stream: process.stderr, format: '{target} [{bar}] {value}/{total} objects | {duration_formatted}', hideCursor: true, clearOnComplete: false, fps: 5 }, cliProgress.Presets.shades_classic) : undefined;
  const bar = new Map<string, cliProgress.SingleBar>();
  const lastTenth = new Map<string, number>();
  const line = (s: string) => (bars ? bars.log(`${s}\n`) : err(`netboot: ${s}`));
  return {
    event(e) {
      if (e.type === 'step') line(e.text);
      else if (e.type === 'warning') line(`warning: ${e.text}`);
      else if (e.type === 'compile') {
        const total = Math.max(e.expected, e.compiled + 1);
        if (bars) {
          let b = bar.get(e.target);
          if (!b) bar.set(e.target, (b = bars.create(total, 0, { target: e.target.padEnd(10) })));
          b.setTotal(total);
          b.update(e.compiled);
        } else {
          const tenth = Math.floor((10 * e.compiled) / total);
          if (tenth > (lastTenth.get(e.target) ?? 0)) {
            lastTenth.set(e.target, tenth);
            line(`${e.target}: ${e.compiled} of about ${e.expected} objects compiled`);
          }
        }
      } else {
        const b = bar.get(e.target);
        if (b) b.update(e.result.compiled, { total: e.result.compiled });
        const what = e.result.cache === 'hit' ? 'from the cache' : e.result.compiled > 0 ? `${e.result.compiled} objects compiled` : 'relinked';
        line(`${e.target}: done in ${e.result.seconds.toFixed(1)} s (${what})`);
      }
    },
    stop: () => bars?.stop(),
  };
}
