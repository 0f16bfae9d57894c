// netboot: the admin CLI of the network-boot control plane (see README, "netboot").
import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { ApiClient, ApiProblemError, NetworkError } from './api';
import { EXIT, EXIT_HELP, UsageError } from './errors';
import type { ArchFiles, ExtraArchitecture } from './profile-set';
import type { PublishedFile } from './ipxe/publish';
import { IpxeBuildError } from './ipxe/errors';

// Start-up (choice, docs/cli.md "Start-up"): what a command does not need is not loaded. The
// upload path (profile-set, resumable, progress bars, hashing) and the iPXE commands (build,
// dhcp, publish: zod schemas, the build machinery) are required on first use; `machine list`
// loads commander, the API client and this file. Synchronous require: esbuild's bundle
// (cli/netboot.js) and tsx both resolve them, and each module is evaluated only when asked.
/* eslint-disable @typescript-eslint/no-require-imports */
const lazy = {
  profileSet: () => require('./profile-set') as typeof import('./profile-set'),
  progress: () => require('./progress') as typeof import('./progress'),
  resumable: () => require('./resumable') as typeof import('./resumable'),
  hash: () => require('./hash') as typeof import('./hash'),
  trust: () => require('./trust') as typeof import('./trust'),
  ipxeDhcp: () => require('./ipxe/dhcp') as typeof import('./ipxe/dhcp'),
  ipxeBuild: () => require('./ipxe/command') as typeof import('./ipxe/command'),
  ipxePublish: () => require('./ipxe/publish') as typeof import('./ipxe/publish'),
};
/* eslint-enable @typescript-eslint/no-require-imports */

/** The architectures `--arch` takes (the service checks the same list: shared/domain/profile.ts; cli/profile-set.ts EXTRA_ARCHITECTURES). */
const EXTRA_ARCHITECTURES = ['arm32', 'arm64', 'riscv32', 'riscv64', 'loong64'] as const;
/** Storage's resumable chunk multiple (cli/resumable.ts CHUNK_MULTIPLE). */
const CHUNK_MULTIPLE = 256 * 1024;

interface GlobalOptions {
  url?: string;
  token?: string;
  json?: boolean;
  ca?: string;
}

export { EXIT } from './errors';

const out = (s: string) => process.stdout.write(s.endsWith('\n') ? s : `${s}\n`);
const err = (s: string) => process.stderr.write(s.endsWith('\n') ? s : `${s}\n`);
const printJson = (v: unknown) => out(JSON.stringify(v, null, 2));

function globals(cmd: Command): GlobalOptions {
  return cmd.optsWithGlobals<GlobalOptions>();
}

function client(cmd: Command, { auth = true } = {}): ApiClient {
  const g = globals(cmd);
  const url = g.url ?? process.env.NETBOOT_URL;
  if (!url) throw new UsageError('no service URL: set NETBOOT_URL or pass --url (locally http://localhost:8080)');
  if (!/^https?:\/\//.test(url)) throw new UsageError(`--url / NETBOOT_URL must be an http(s) URL, not ${url}`);
  const token = g.token ?? process.env.NETBOOT_TOKEN;
  if (auth && !token) throw new UsageError('no token: set NETBOOT_TOKEN or pass --token (locally: export NETBOOT_TOKEN=$(npm run --silent admin-token))');
  return new ApiClient(url, token, {
    onRetry: ({ method, path, attempt, attempts, reason }) => err(`netboot: ${method} ${path}: ${reason}; asking again (attempt ${attempt + 1} of ${attempts})`),
  });
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

function positiveInt(name: string) {
  return (value: string) => {
    if (!/^\d+$/.test(value) || Number(value) < 1) throw new UsageError(`${name} must be a positive integer, not ${value}`);
    return Number(value);
  };
}

async function readJsonFile(path: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UsageError(`--file ${path}: ${code === 'ENOENT' ? 'no such file; check the path' : code === 'EISDIR' ? 'is a directory' : `cannot be read (${code ?? String(e)})`}`);
  }
  try {
    const v = JSON.parse(text) as unknown;
    if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('not a JSON object');
    return v as Record<string, unknown>;
  } catch (e) {
    throw new UsageError(`${path}: ${(e as Error).message}`);
  }
}

const enc = encodeURIComponent;

function machineLine(m: Record<string, unknown>): string {
  const nics = Array.isArray(m.nics) ? (m.nics as { mac?: string }[]).map((n) => n.mac).join(',') : '';
  const count = (k: string) => (Array.isArray(m[k]) ? (m[k] as unknown[]).length : 0);
  return `${String(m.id)}  nics=${nics}  cpus=${count('cpus')} memory_modules=${count('memory_modules')} drives=${count('drives')} accelerators=${count('accelerators')}`;
}

/** A line's label in a 10-column field (longer ones get one space). */
const label = (name: string) => (name.length >= 10 ? `${name} ` : name.padEnd(10));

function profileLines(p: Record<string, unknown>): string {
  const k = (p.kernel ?? {}) as Record<string, unknown>;
  const i = (p.initrd ?? {}) as Record<string, unknown>;
  const args = Array.isArray(k.args) ? (k.args as string[]).join(' ') : '';
  return [
    `profile   ${String(p.id)}`,
    `machine   ${String(p.machine_id)}`,
    `kernel    ${String(k.id)}${k.size !== undefined ? `  ${String(k.size)} bytes` : ''}${k.sha256 ? `  sha256 ${String(k.sha256)}` : ''}`,
    `initrd    ${String(i.id)}${i.size !== undefined ? `  ${String(i.size)} bytes` : ''}${i.sha256 ? `  sha256 ${String(i.sha256)}` : ''}`,
    ...Object.entries((p.architectures ?? {}) as Record<string, { kernel?: Record<string, unknown>; initrd?: Record<string, unknown> }>).flatMap(([arch, images]) =>
      (['kernel', 'initrd'] as const).map((kind) => {
        const b = images[kind] ?? {};
        return `${label(`${kind}.${arch}`)}${String(b.id)}  ${String(b.size)} bytes  sha256 ${String(b.sha256)}`;
      }),
    ),
    `args      ${args}`,
    ...(['user_data', 'vendor_data'] as const).flatMap((name) => {
      const d = p[name] as Record<string, unknown> | undefined;
      return d ? [`${label(name)}${String(d.format)}  ${String(d.size)} bytes  sha256 ${String(d.sha256)}`] : [];
    }),
  ].join('\n');
}

/** `--arch ARCH KERNEL INITRD` (repeatable; commander joins repeated variadic values): the triples, checked. */
function archTriples(values: string[] | undefined): ArchFiles[] {
  if (!values?.length) return [];
  if (values.length % 3 !== 0) throw new UsageError(`--arch takes three values, ARCH KERNEL INITRD (e.g. --arch arm64 vmlinuz-arm64 initrd-arm64.img); got: ${values.join(' ')}`);
  const triples: ArchFiles[] = [];
  for (let i = 0; i < values.length; i += 3) {
    const [arch, kernel, initrd] = values.slice(i, i + 3) as [string, string, string];
    if (arch === 'i386' || arch === 'x86_64') throw new UsageError(`--arch ${arch}: i386 and x86_64 boot --kernel / --initrd (one family); --arch is for ${EXTRA_ARCHITECTURES.join(', ')}`);
    if (!(EXTRA_ARCHITECTURES as readonly string[]).includes(arch)) throw new UsageError(`--arch ${arch}: unknown architecture; one of ${EXTRA_ARCHITECTURES.join(', ')} (iPXE's \${buildarch})`);
    if (triples.some((t) => t.arch === arch)) throw new UsageError(`--arch ${arch} given more than once`);
    triples.push({ arch: arch as ExtraArchitecture, kernel, initrd });
  }
  return triples;
}

/** The whole program; with `argv`, only what that command line can reach is loaded (see `lazy`). */
export function buildProgram(argv?: readonly string[]): Command {
  const program = new Command('netboot')
    .description('Admin CLI of the netboot control plane: machines, boot profiles, boot scripts')
    .version('0.1.0')
    .option('--url <url>', 'service base URL (default: $NETBOOT_URL)')
    .option('--token <token>', 'bearer ID token (default: $NETBOOT_TOKEN)')
    .option('--json', "print the API's JSON answer")
    .addOption(new Option('--ca <file>', 'also trust the CA certificates in this PEM file, for the service and Storage (npm start -- --tls: .cache/local-tls/ca.pem)').env('NETBOOT_CA'))
    .addHelpText('afterAll', `\n${EXIT_HELP}`)
    .showHelpAfterError()
    .exitOverride()
    .hook('preAction', (_program, action) => {
      const ca = globals(action).ca;
      if (ca) {
        const { CaFileError, trustCaFile } = lazy.trust();
        try {
          trustCaFile(ca);
        } catch (e) {
          throw e instanceof CaFileError ? new UsageError(e.message) : e;
        }
      }
    });

  const machine = program.command('machine').description('register, list, read, replace and delete machines');

  machine
    .command('add')
    .description('register a machine (POST /api/v1/machines)')
    .option('--mac <mac>', 'a NIC MAC address (repeatable; added to the file’s nics)', collect)
    .option('--file <machine.json>', 'the whole request body (cpus, memory_modules, accelerators, nics, drives)')
    .action(async (o: { mac?: string[]; file?: string }, cmd: Command) => {
      const body = o.file ? await readJsonFile(o.file) : {};
      if (o.mac?.length) {
        const nics = Array.isArray(body.nics) ? (body.nics as unknown[]) : [];
        body.nics = [...nics, ...o.mac.map((mac) => ({ mac }))];
      }
      if (!o.file && !o.mac?.length) throw new UsageError('give --mac MAC (repeatable) and/or --file machine.json');
      const res = await client(cmd).request<{ id: string }>('POST', '/api/v1/machines', { json: body }).catch(fieldsOf(o.file ? `--file ${o.file}` : 'the machine'));
      if (globals(cmd).json) printJson(res.body);
      else out(res.body.id);
    });

  machine
    .command('list')
    .description('list machines (GET /api/v1/machines)')
    .option('--mac <mac>', 'only the machine with this NIC MAC')
    .option('--page <n>', 'page number (from 1)', positiveInt('--page'))
    .option('--per-page <n>', 'machines per page (1-100)', positiveInt('--per-page'))
    .action(async (o: { mac?: string; page?: number; perPage?: number }, cmd: Command) => {
      const qs = listQuery(o);
      const res = await client(cmd).request<{ machines: Record<string, unknown>[]; pagination?: Record<string, number> }>('GET', `/api/v1/machines${qs ? `?${qs}` : ''}`);
      if (globals(cmd).json) {
        printJson(res.body);
        return;
      }
      for (const m of res.body.machines) out(machineLine(m));
      const p = res.body.pagination;
      if (p) err(pageLine(p, 'machine', 'machines', o.mac ? `with MAC ${o.mac}` : undefined));
    });

  machine
    .command('get')
    .description('show a machine (GET /api/v1/machines/ID)')
    .argument('<id>', 'machine id')
    .action(async (id: string, _o: unknown, cmd: Command) => {
      const res = await client(cmd).request('GET', `/api/v1/machines/${enc(id)}`);
      printJson(res.body); // a machine is its JSON, with or without --json
    });

  machine
    .command('update')
    .description('replace a machine (PUT /api/v1/machines/ID)')
    .argument('<id>', 'machine id')
    .requiredOption('--file <machine.json>', 'the whole new machine')
    .action(async (id: string, o: { file: string }, cmd: Command) => {
      const body = await readJsonFile(o.file);
      const res = await client(cmd).request('PUT', `/api/v1/machines/${enc(id)}`, { json: body }).catch(fieldsOf(`--file ${o.file}`));
      if (globals(cmd).json) printJson(res.body);
      else out(`machine ${id} replaced`);
    });

  machine
    .command('rm')
    .description('delete a machine (DELETE /api/v1/machines/ID; delete its profile first)')
    .argument('<id>', 'machine id')
    .action(async (id: string, _o: unknown, cmd: Command) => {
      await client(cmd).request('DELETE', `/api/v1/machines/${enc(id)}`);
      if (globals(cmd).json) printJson({ id, deleted: true });
      else out(`machine ${id} deleted`);
    });

  machine
    .command('netboot')
    .description('set whether the machine boots over the network: enabled, disabled (local disk) or once (PATCH /api/v1/machines/ID)')
    .argument('<id>', 'machine id')
    .argument('<mode>', 'enabled | disabled | once')
    .action(async (id: string, mode: string, _o: unknown, cmd: Command) => {
      if (!['enabled', 'disabled', 'once'].includes(mode)) throw new UsageError('mode must be enabled, disabled or once');
      const res = await client(cmd).request<Record<string, unknown>>('PATCH', `/api/v1/machines/${enc(id)}`, { json: { netboot: mode }, contentType: 'application/merge-patch+json' });
      if (globals(cmd).json) printJson(res.body);
      else out(`machine ${id}: netboot ${String(res.body.netboot)}`);
    });

  machine
    .command('boots')
    .description("a machine's last boots and their phases (GET /api/v1/machines/ID/boots)")
    .argument('<id>', 'machine id')
    .action(async (id: string, _o: unknown, cmd: Command) => {
      const res = await client(cmd).request<{ boots: { id: string; action: string; profile_id: string | null; phases: { phase: string; at: string; [k: string]: unknown }[] }[] }>('GET', `/api/v1/machines/${enc(id)}/boots`);
      if (globals(cmd).json) {
        printJson(res.body);
        return;
      }
      for (const b of res.body.boots) {
        out(`boot ${b.id} (${b.action}${b.profile_id ? ` ${b.profile_id}` : ''})`);
        for (const p of b.phases) {
          const extra = Object.entries(p).filter(([k]) => !['phase', 'at'].includes(k)).map(([k, v]) => `${k}=${String(v)}`).join(' ');
          out(`  ${p.at}  ${p.phase.padEnd(9)} ${extra}`);
        }
      }
    });

  program
    .command('discoveries')
    .description('unknown MACs that asked for a boot script (GET /api/v1/discoveries)')
    .option('--mac <mac>', 'only this MAC')
    .option('--page <n>', 'page number (from 1)', positiveInt('--page'))
    .option('--per-page <n>', 'records per page (1-100)', positiveInt('--per-page'))
    .action(async (o: { mac?: string; page?: number; perPage?: number }, cmd: Command) => {
      const qs = listQuery(o);
      const res = await client(cmd).request<{ discoveries: Record<string, unknown>[]; pagination?: Record<string, number> }>('GET', `/api/v1/discoveries${qs ? `?${qs}` : ''}`);
      if (globals(cmd).json) {
        printJson(res.body);
        return;
      }
      for (const d of res.body.discoveries) {
        out(`${String(d.mac)}  last seen ${String(d.last_seen)}  requests ${String(d.requests)}  from ${String(d.client_address)}  arch ${String(d.arch ?? '-')}  platform ${String(d.platform ?? '-')}`);
      }
      const p = res.body.pagination;
      if (p) err(pageLine(p, 'discovery', 'discoveries', o.mac ? `of MAC ${o.mac}` : undefined));
    });

  const profile = program.command('profile').description("set, show and delete a machine's boot profile (MACHINE_ID `default`: the default profile)");

  profile
    .command('set')
    .description("create or replace a machine's boot profile (or, with `default`, the default profile); uploads only what the service lacks, resumable")
    .argument('<machine_id>', 'machine id, or `default` (the profile unregistered MACs boot)')
    .requiredOption('--kernel <file>', 'kernel image (booted by i386 / x86_64 and by requests without arch)')
    .requiredOption('--initrd <file>', 'initial ramdisk (with --kernel)')
    .option('--arch <arch kernel initrd...>', `another architecture's kernel and initrd (repeatable: --arch arm64 vmlinuz-arm64 initrd-arm64.img; ARCH one of ${EXTRA_ARCHITECTURES.join(', ')})`)
    .option('--arg <arg>', 'a kernel argument (repeatable, in order; {{machine_id}} {{mac}} {{hostname}} {{base_url}} {{arch}} {{platform}} are rendered per boot)', collect)
    .option('--user-data <file>', 'cloud-init user-data (#cloud-config YAML, a #! script or a MIME archive; at most 64 KiB), served at /metadata/MAC/user-data')
    .option('--vendor-data <file>', 'cloud-init vendor-data (same formats and limit as --user-data), served at /metadata/MAC/vendor-data')
    .addOption(
      new Option('--transfer <how>', 'parts: send files not sent before at once, in parts the service hashes as they land (this side hashes alongside); resumable: hash every file first, then one upload each')
        .choices(['parts', 'resumable'])
        .default('parts'),
    )
    .addOption(new Option('--chunk-size <bytes>', 'upload chunk size (multiple of 262144)').env('NETBOOT_CHUNK_SIZE').hideHelp())
    .action(async (machineId: string, o: { kernel: string; initrd: string; arch?: string[]; arg?: string[]; userData?: string; vendorData?: string; chunkSize?: string; transfer: 'parts' | 'resumable' }, cmd: Command) => {
      const archs = archTriples(o.arch);
      const api = client(cmd);
      const userData = o.userData === undefined ? undefined : readUserData(o.userData);
      const vendorData = o.vendorData === undefined ? undefined : readUserData(o.vendorData, '--vendor-data');
      let chunkSize: number | undefined;
      if (o.chunkSize !== undefined) {
        chunkSize = Number(o.chunkSize);
        if (!Number.isInteger(chunkSize) || chunkSize <= 0 || chunkSize % CHUNK_MULTIPLE !== 0) throw new UsageError(`--chunk-size must be a positive multiple of ${CHUNK_MULTIPLE}`);
      }
      const progress = lazy.progress().createProgress({ tty: Boolean(process.stdout.isTTY && process.stderr.isTTY), intervalMs: progressInterval() });
      stopOnExit = () => progress.stop();
      try {
        const r = await lazy.profileSet().profileSet(api, { machineId, kernel: o.kernel, initrd: o.initrd, archs, kernelArgs: o.arg ?? [], userData, vendorData, chunkSize, transfer: o.transfer, progress });
        progress.stop();
        err(`netboot: upload stats ${JSON.stringify({ session_id: r.session_id, mode: r.mode, resumed: r.resumed, files: r.files })}`);
        if (globals(cmd).json) printJson(r.profile);
        else out(`${r.mode === 'create' ? 'created' : 'replaced'} boot profile\n${profileLines(r.profile)}`);
      } finally {
        progress.stop();
        stopOnExit = undefined;
      }
    });

  profile
    .command('get')
    .description("show a machine's boot profile (GET /api/v1/boot/MACHINE_ID/profile)")
    .argument('<machine_id>', 'machine id')
    .action(async (machineId: string, _o: unknown, cmd: Command) => {
      const res = await client(cmd).request<Record<string, unknown>>('GET', `/api/v1/boot/${enc(machineId)}/profile`);
      if (globals(cmd).json) printJson(res.body);
      else out(profileLines(res.body));
    });

  profile
    .command('rm')
    .description("delete a machine's boot profile (DELETE /api/v1/boot/MACHINE_ID/profile)")
    .argument('<machine_id>', 'machine id')
    .action(async (machineId: string, _o: unknown, cmd: Command) => {
      await client(cmd).request('DELETE', `/api/v1/boot/${enc(machineId)}/profile`);
      if (globals(cmd).json) printJson({ machine_id: machineId, deleted: true });
      else out(`boot profile of machine ${machineId} deleted`);
    });

  program
    .command('boot-script')
    .description('print the iPXE script a machine gets, without booting it (GET /api/v1/boot-script?mac=MAC[&arch=ARCH&platform=PLATFORM]: no boot record, no discovery, no boot rate limit; the per-boot token is a placeholder)')
    .argument('<mac>', 'NIC MAC address')
    .option('--arch <arch>', "as iPXE's ${buildarch} would send it (i386, x86_64, arm64, ...): that architecture's images, or the refusal")
    .option('--platform <platform>', "as iPXE's ${platform} would send it (pcbios, efi)")
    .action(async (mac: string, o: { arch?: string; platform?: string }, cmd: Command) => {
      const extra = `${o.arch === undefined ? '' : `&arch=${enc(o.arch)}`}${o.platform === undefined ? '' : `&platform=${enc(o.platform)}`}`;
      const res = await client(cmd).request<string>('GET', `/api/v1/boot-script?mac=${enc(mac)}${extra}`);
      if (globals(cmd).json) printJson({ mac, script: res.text });
      else out(res.text);
    });

  const ipxe = program.command('ipxe').description('iPXE for this service: DHCP configuration, builds, publishing');
  // Their definitions load the iPXE modules: only for a command line that names `ipxe` (and for the docs: no argv).
  if (!argv || argv.includes('ipxe')) {
    ipxe.addCommand(
      lazy.ipxeDhcp().ipxeDhcpCommand(out, err, (e) => {
        throw new UsageError(e.message);
      }),
    );
    ipxe.addCommand(lazy.ipxeBuild().ipxeBuildCommand((cmd) => globals(cmd).url));
  }
  ipxe
    .command('publish')
    .description('upload a build\'s binaries (checked against its manifest.json) so GET /ipxe/FILE serves them to UEFI HTTP Boot; only what the service lacks is sent')
    .argument('<dir>', 'the --out directory of netboot ipxe build')
    .action(async (dir: string, _o: unknown, cmd: Command) => {
      let published: PublishedFile[];
      try {
        published = await lazy.ipxePublish().publishBuild(client(cmd), dir, (line) => err(`netboot: ${line}`));
      } catch (e) {
        if (e instanceof lazy.ipxePublish().PublishInputError) throw new UsageError(e.message);
        throw e;
      }
      if (globals(cmd).json) printJson({ binaries: published });
      else for (const b of published) out(`published ${b.url_path}  ${b.size} bytes  sha256 ${b.sha256}${b.uploaded ? '' : '  (already held)'}`);
    });

  // Not in the help: the upload engine alone, on a Storage resumable session URI (tests, debugging).
  program
    .command('upload-session-uri', { hidden: true })
    .argument('<session_uri>')
    .argument('<file>')
    .addOption(new Option('--chunk-size <bytes>').env('NETBOOT_CHUNK_SIZE'))
    .action(async (uri: string, file: string, o: { chunkSize?: string }, cmd: Command) => {
      const { size } = await lazy.hash().hashFile(file);
      const progress = lazy.progress().createProgress({ tty: Boolean(process.stdout.isTTY && process.stderr.isTTY), intervalMs: progressInterval() });
      stopOnExit = () => progress.stop();
      let bar: ReturnType<typeof progress.file> | undefined;
      const r = await lazy.resumable().uploadResumable({
        uri,
        path: file,
        total: size,
        chunkSize: o.chunkSize ? Number(o.chunkSize) : undefined,
        onProgress: (p) => {
          bar ??= progress.file('file', p.total, p.position);
          bar.update(p.position);
        },
        onRetry: (i) => progress.log(`retry ${i.attempt} in ${i.delayMs} ms: ${i.error}`),
      });
      progress.stop();
      const stats = { total: r.total, resumed_from: r.resumedFrom, sent: r.sent };
      err(`netboot: upload stats ${JSON.stringify(stats)}`);
      if (globals(cmd).json) printJson({ ...stats, object: r.object });
    });

  return program;
}

function progressInterval(): number | undefined {
  const v = process.env.NETBOOT_PROGRESS_INTERVAL_MS;
  return v !== undefined && /^\d+$/.test(v) ? Number(v) : undefined;
}

let stopOnExit: (() => void) | undefined;

function fail(e: unknown): number {
  stopOnExit?.();
  if (e instanceof ApiProblemError) {
    const p = e.problem;
    const detail = p.detail ? inCliTerms(p.detail) : '';
    err(`netboot: ${p.title ?? `HTTP ${e.status}`} (${e.status}${e.slug ? ` ${e.slug}` : ''})${detail ? `: ${detail}` : ''}`);
    const hint = e.hint ?? hintFor(e);
    if (hint) err(`  ${hint}`);
    const extra = Object.fromEntries(Object.entries(p).filter(([k]) => !['type', 'title', 'status', 'detail', 'instance'].includes(k)));
    if (Object.keys(extra).length) err(`  ${JSON.stringify(extra)}`);
    return EXIT.problem;
  }
  if (e instanceof IpxeBuildError) {
    err(`netboot: ${e.message}`);
    return e.kind === 'usage' ? EXIT.usage : EXIT.io;
  }
  if (e instanceof UsageError) {
    err(`netboot: ${e.message}`);
    return EXIT.usage;
  }
  const { SessionGoneError, StorageError } = lazy.resumable(); // already loaded when one of them was thrown
  if (e instanceof NetworkError || e instanceof SessionGoneError || e instanceof StorageError) {
    err(`netboot: ${e.message}`);
    return EXIT.io;
  }
  err(`netboot: ${e instanceof Error ? e.message : String(e)}`);
  return EXIT.io;
}

/** The admin routes a problem's detail may name, as the CLI's commands. */
const ROUTES: [RegExp, (id: string) => string][] = [
  [/^DELETE \/api\/v1\/boot\/([^/\s]+)\/profile$/, (id) => `netboot profile rm ${id}`],
  [/^(GET|PUT) \/api\/v1\/boot\/([^/\s]+)\/profile$/, (id) => `netboot profile get ${id}`],
  [/^DELETE \/api\/v1\/machines\/([^/\s]+)$/, (id) => `netboot machine rm ${id}`],
  [/^GET \/api\/v1\/machines\/([^/\s]+)$/, (id) => `netboot machine get ${id}`],
  [/^PATCH \/api\/v1\/machines\/([^/\s]+)$/, (id) => `netboot machine netboot ${id} MODE`],
];

/** A problem's detail with the API routes it names said as `netboot` commands ("(DELETE /api/v1/boot/ID/profile)" -> "netboot profile rm ID"). */
export function inCliTerms(detail: string): string {
  return detail.replace(/ ?(\()?\b(GET|PUT|POST|PATCH|DELETE) (\/api\/v1\/[^\s),;]+)(\))?/g, (whole, open: string | undefined, method: string, path: string, close: string | undefined) => {
    for (const [pattern, command] of ROUTES) {
      const m = pattern.exec(`${method} ${path}`);
      if (m) return `${open && close ? ': ' : ' '}${command(decodeURIComponent(m[m.length - 1] as string))}`;
    }
    return whole;
  });
}

/** A refused body's invalid fields, said as the file they came from (`--file machine.json: nics: at least one NIC is required`). */
function fieldsOf(source: string) {
  return (e: unknown): never => {
    const fields = e instanceof ApiProblemError ? e.problem.invalid_fields : undefined;
    if (e instanceof ApiProblemError && Array.isArray(fields) && fields.length) {
      e.hint ??= `${source}: ${(fields as { field?: string; reason?: string }[]).map((f) => `${f.field ?? '?'}: ${f.reason ?? 'invalid'}`).join('; ')}`;
    }
    throw e;
  };
}

/** What to do about a problem the command could not put in its own context. */
function hintFor(e: ApiProblemError): string | undefined {
  if (e.status === 401) {
    return 'get an administrator token: locally  export NETBOOT_TOKEN=$(npm run --silent admin-token)  (valid one hour); in production  export NETBOOT_TOKEN=$(gcloud auth print-identity-token --audiences=$(terraform -chdir=terraform output -raw admin_token_audience))';
  }
  if (e.status === 403) return 'the token is valid but its identity is not an administrator: the deployment lists them in ADMIN_PRINCIPALS (terraform variable admin_principals)';
  if (e.slug === 'machine-not-found' || e.slug === 'unknown-machine') return '`netboot machine list` shows the registered machines';
  if (e.slug === 'boot-profile-not-found') return 'the machine has no boot profile: `netboot profile set ID --kernel FILE --initrd FILE` gives it one';
  if (e.status === 429 && e.retryAfterMs !== undefined) return `too many requests: try again in ${Math.ceil(e.retryAfterMs / 1000)} s`;
  return undefined;
}

/** `page 2 of 3 (45 machines, 20 per page)`; `no machines` when there are none. */
function pageLine(p: Record<string, number>, one: string, many: string, filter?: string): string {
  const total = Number(p.total ?? 0);
  if (total === 0) return `no ${many}${filter ? ` ${filter}` : ''}`;
  const count = `${total} ${total === 1 ? one : many}`;
  if (Number(p.total_pages) < Number(p.page)) return `page ${p.page} is past the last (${p.total_pages}); ${count}, ${p.per_page} per page`;
  return `page ${p.page} of ${p.total_pages} (${count}, ${p.per_page} per page)`;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram(argv);
  for (const [signal, code] of [['SIGINT', EXIT.sigint], ['SIGTERM', EXIT.sigterm]] as const) {
    process.once(signal, () => {
      stopOnExit?.();
      err(`\nnetboot: interrupted (${signal}); run the same command again to ${argv.includes('set') ? 'resume' : 'finish'}`);
      process.exit(code);
    });
  }
  try {
    await program.parseAsync(argv);
    return EXIT.ok;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.exitCode === 0) return EXIT.ok;
      return EXIT.usage; // commander already printed the message
    }
    return fail(e);
  }
}

if (require.main === module) {
  void main(process.argv).then((code) => {
    process.exitCode = code;
  });
}

/** --user-data FILE (or --vendor-data FILE): its text (UTF-8, as the service requires); the service validates the rest. */
function readUserData(file: string, option = '--user-data'): string {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UsageError(`${option} ${file}: ${code === 'ENOENT' ? 'no such file; check the path' : code === 'EISDIR' ? 'is a directory' : `cannot be read (${code ?? String(e)})`}`);
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new UsageError(`${option} ${file} is not UTF-8 text`);
  }
}

/** The query string of a paged list (`mac`, `page`, `per_page`), empty when nothing is set. */
function listQuery(o: { mac?: string; page?: number; perPage?: number }): string {
  const q = new URLSearchParams();
  if (o.mac) q.set('mac', o.mac);
  if (o.page) q.set('page', String(o.page));
  if (o.perPage) q.set('per_page', String(o.perPage));
  return q.toString();
}
