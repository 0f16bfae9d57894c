/**
 * Generates the deployment artifacts that must follow the route table
 * (shared/routes.ts), so that Terraform and API Gateway cannot drift from the code:
 *
 *   terraform/functions.json  every function: entry point, audience, routes and sizing;
 *                             read by terraform/functions.tf with jsondecode(file(...)).
 *   terraform/openapi.yaml    the API Gateway OpenAPI 2.0 document, as a Terraform template:
 *                             api_gateway.tf fills each backend address with templatefile().
 *                             No boot operations: boot traffic belongs on the VPN (the
 *                             internal load balancer), and this is what a default deploy uses.
 *   terraform/openapi-with-boot.yaml
 *                             the same with the boot operations, used only when the operator
 *                             opts in with boot_on_api_gateway (and names boot_allowed_cidrs).
 *   terraform/openapi-v3.json the OpenAPI 3.1 contract of the whole API (every route, body,
 *                             response and problem), from the route table and
 *                             shared/api/contract.ts (shared/api/openapi.ts); documentation for
 *                             clients, also served locally at GET /openapi.json.
 *
 * All are committed. `npm run generate` rewrites them; `npm run generate -- --check`
 * only reports whether they are current (test/infra/generated.test.ts does the same).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { openApiText } from '../shared/api/openapi';
import { routes, type Audience, type FunctionName, type HttpMethod } from '../shared/routes';

export const repoRoot = path.resolve(__dirname, '..');
export const functionsJsonPath = 'terraform/functions.json';
export const openApiPath = 'terraform/openapi.yaml';
export const openApiWithBootPath = 'terraform/openapi-with-boot.yaml';
/** The OpenAPI 3.1 contract of the whole API (shared/api/openapi.ts); documentation, not read by Terraform. */
export const openApiV3Path = 'terraform/openapi-v3.json';

/** Audiences published on API Gateway only when Terraform's boot_on_api_gateway opts in. */
export const optInAudiences: readonly Audience[] = ['boot'];

/** Cloud Functions gen2 resources of one function (Cloud Run underneath). */
export interface Sizing {
  /** Cloud Run memory quantity. */
  memory: '256Mi' | '512Mi' | '1Gi' | '2Gi';
  /** vCPUs. Concurrency above 1 needs at least 1 vCPU. */
  cpu: '1' | '2';
  /** Requests one instance serves at once (max_instance_request_concurrency). */
  concurrency: number;
  /** Request timeout; also the API Gateway backend deadline (its maximum is 3600 s). */
  timeoutSeconds: number;
  maxInstances: number;
  why: string;
}

const adminCrud = (what: string): Sizing => ({
  memory: '256Mi',
  cpu: '1',
  concurrency: 20,
  timeoutSeconds: 60,
  maxInstances: 5,
  why:
    `${what}: small JSON bodies and a few Firestore reads/writes per request. 256 MiB holds the Node runtime and ` +
    'the Firestore client (~150 MiB resident); 1 vCPU keeps cold starts short and allows concurrent requests ' +
    '(concurrency above 1 needs 1 vCPU). Admin traffic is low: 5 instances x 20 requests.',
});

/** The NoCloud metadata routes: fetched by cloud-init once per boot, so a boot storm's size, like bootScript. */
const bootMetadata = (what: string): Sizing => ({
  memory: '256Mi',
  cpu: '1',
  concurrency: 40,
  timeoutSeconds: 30,
  maxInstances: 20,
  why: `${what}. Machines installing together fetch it together: one vCPU serves 40 tiny requests at once in 256 MiB, 20 instances (cloud-init's fetches are not in the storm model that sizes bootScript); 30 s: cloud-init retries long before.`,
});

const upload = (what: string): Sizing => ({
  memory: '1Gi',
  cpu: '1',
  concurrency: 1,
  timeoutSeconds: 300,
  maxInstances: 5,
  why:
    `${what}: multipart upload of kernel/initrd. functions-framework buffers the whole body (up to ` +
    'MAX_REQUEST_BYTES = 32 MiB, the platform limit) as req.rawBody before the handler runs, then busboy streams ' +
    'the parts to Cloud Storage while hashing them (upload buffers of a few MiB). One request per instance bounds ' +
    'memory to one body; 1 GiB leaves headroom over ~32 MiB body + upload buffers + ~150 MiB runtime. 300 s covers ' +
    'receiving 32 MiB from a slow admin link and writing it to Cloud Storage.',
});

const asset = (what: string): Sizing => ({
  memory: '512Mi',
  cpu: '1',
  concurrency: 20,
  timeoutSeconds: 900,
  maxInstances: 20,
  why:
    `${what}: with ASSET_DELIVERY=redirect (default) a cached signed URL and a 302, light. With ASSET_DELIVERY=proxy ` +
    'the blob is streamed through the instance (Range supported); each stream holds only a few buffers, so 20 ' +
    'streams fit in 512 MiB. 900 s lets a proxied 1 GiB initrd reach a slow iPXE client (~1.2 MB/s). 20 instances ' +
    'x 20 streams serve a boot storm of 400 machines (the default of Terraform\'s asset_max_instances, which sets it).',
});

/** Resources per function, each explained. Typed so that a route added without sizing fails to compile. */
export const sizing = {
  machinesCreate: adminCrud('Register a machine'),
  machinesList: adminCrud('List machines (count + keys-only page cursor + one page)'),
  machinesGet: adminCrud('Get a machine'),
  machinesUpdate: adminCrud('Replace a machine (one transaction)'),
  machinesDelete: adminCrud('Delete a machine (one transaction)'),
  machinesPatch: adminCrud('Merge-patch a machine (one transaction, the MAC-claim rules of a replace)'),
  machinesBoots: adminCrud("A machine's last boots (one machine read, one query of at most 10 boot records)"),
  machinesBootScript: adminCrud("Preview a machine's boot script (the reads of /boot.ipxe, no write)"),
  bootScriptPreview: adminCrud("Preview a MAC's boot script (the reads of /boot.ipxe, no write)"),
  discoveriesList: adminCrud('List discovered MACs (count + keys-only page cursor + one page)'),
  profilesCreate: upload('Create a boot profile'),
  profilesGet: adminCrud("Get a machine's boot profile"),
  profilesUpdate: upload("Replace a machine's boot profile"),
  defaultProfileGet: adminCrud('Get the default boot profile'),
  metadataUserData: bootMetadata('cloud-init NoCloud user-data: two Firestore reads (the MAC, the profile) and at most 64 KiB of text'),
  metadataMetaData: bootMetadata('cloud-init NoCloud meta-data: one Firestore read (the MAC) and two lines of YAML'),
  metadataVendorData: bootMetadata('cloud-init NoCloud vendor-data: one Firestore read (the MAC), an empty answer'),
  nocloudSeed: bootMetadata("a boot's own NoCloud seed ({{metadata_url}}): the boot record and the MAC or profile (two reads), one write (the fetch), at most 64 KiB of text"),
  defaultProfileSet: upload('Set the default boot profile (multipart, like a machine\'s PUT)'),
  defaultProfileDelete: adminCrud('Delete the default boot profile (blobs are left to the sweeper)'),
  profilesCloudInit: adminCrud("A profile's user-data or vendor-data (two Firestore reads, at most 64 KiB of text)"),
  profilesDelete: adminCrud("Delete a machine's boot profile (blobs are left to the sweeper)"),
  uploadsCreate: adminCrud('Open an upload session (a few Firestore reads and one GCS resumable-session start per file; no file byte passes through)'),
  uploadsGet: adminCrud('Get an upload session'),
  uploadsFinalize: {
    memory: '512Mi',
    cpu: '1',
    concurrency: 4,
    timeoutSeconds: 600,
    maxInstances: 5,
    why:
      'Finalize an upload session: streams each uploaded file (up to INITRD_MAX_BYTES = 1 GiB) from Cloud Storage ' +
      'through SHA-256, a few buffers at a time (never whole in memory), then one Firestore transaction. Hashing ' +
      'runs at roughly 100-200 MB/s on 1 vCPU, so 4 concurrent finalizes of 1 GiB fit in 600 s; 512 MiB covers ' +
      'the runtime plus 4 read streams.',
  },
  uploadsVerify: {
    memory: '512Mi',
    cpu: '1',
    concurrency: 4,
    timeoutSeconds: 300,
    maxInstances: 5,
    why:
      'Hash the landed parts of an upload session (transfer parts): streams each part (at most 32 MiB, INITRD_MAX_BYTES / 32) ' +
      'from Cloud Storage through SHA-256 carried in a 116-byte state, then one small Firestore transaction per part. ' +
      'Sized like finalize, which it relieves: 4 concurrent calls hash 4 read streams.',
  },
  uploadsCancel: adminCrud('Cancel an upload session (one transaction, GCS session cancels)'),
  ipxeList: adminCrud('List the published iPXE binaries (at most four documents)'),
  ipxeUploadsCreate: adminCrud('Open an iPXE upload session (content index reads, one GCS resumable session per binary still needed)'),
  ipxeUploadsFinalize: adminCrud('Hash the uploaded iPXE binaries from Storage (about 1 MB each) and publish them in one transaction'),
  bootScript: {
    memory: '256Mi',
    cpu: '1',
    concurrency: 40,
    timeoutSeconds: 30,
    maxInstances: 6,
    why:
      'iPXE script for a MAC: two Firestore reads and a few lines of text. Boot storms are many tiny concurrent ' +
      'requests, so one vCPU serves 40 at once in 256 MiB. 6 instances: the default of Terraform\'s ' +
      'boot_max_instances, which sets it: the storm model\'s recommendation for 10,000 machines powering on over ' +
      '15 minutes in redirect mode with 2 x headroom (bench/storm/model.ts; docs/performance.md). 30 s: iPXE gives up long before.',
  },
  assetKernel: asset('Kernel of a boot profile'),
  ipxeBinary: {
    memory: '256Mi',
    cpu: '1',
    concurrency: 40,
    timeoutSeconds: 120,
    maxInstances: 10,
    why:
      'A published iPXE binary (about 1 MB, streamed from Storage): fetched once per UEFI HTTP Boot, so a boot storm ' +
      'of HTTP Boot machines; 40 streams of a few buffers each fit in 256 MiB; 120 s brings 1 MB to a slow firmware client.',
  },
  bootReport: {
    memory: '256Mi',
    cpu: '1',
    concurrency: 40,
    timeoutSeconds: 30,
    maxInstances: 6,
    why:
      "A boot script's booting report: one rate-limit count, one Firestore read and one write (a transaction more " +
      "for a netboot-once machine), a 3-byte answer. Sized like the boot script it follows in a boot storm (Terraform's boot_max_instances).",
  },
  bootInstalled: {
    memory: '256Mi',
    cpu: '1',
    concurrency: 20,
    timeoutSeconds: 30,
    maxInstances: 5,
    why: "An installed OS's callback: one rate-limit count, one Firestore read and one write; once per installation.",
  },
  assetInitrd: asset('Initrd of a boot profile'),
  healthStartup: {
    memory: '256Mi',
    cpu: '1',
    concurrency: 20,
    timeoutSeconds: 15,
    maxInstances: 2,
    why: 'Startup probe: checks Firestore and the bucket with a 5 s limit each; 15 s covers a cold start plus the checks.',
  },
  consoleAssets: {
    memory: '256Mi',
    cpu: '1',
    concurrency: 80,
    timeoutSeconds: 10,
    maxInstances: 3,
    why: 'The fleet console: a few small static files (at most 150 KB of JavaScript) read from the source archive; browsers cache the hashed ones for good.',
  },
  healthLiveness: {
    memory: '256Mi',
    cpu: '1',
    concurrency: 20,
    timeoutSeconds: 15,
    maxInstances: 2,
    why: 'Liveness probe: answers without touching dependencies; smallest useful size.',
  },
  blobsSweep: {
    memory: '512Mi',
    cpu: '1',
    concurrency: 1,
    timeoutSeconds: 1800,
    maxInstances: 1,
    why:
      'Hourly sweep of orphaned blobs: lists the bucket and reads every boot profile to collect the referenced ' +
      'blob ids (kept in memory: 512 MiB). One instance, one request: two sweeps never race on deletes. 1800 s is ' +
      "Cloud Scheduler's longest attempt deadline for HTTP targets, so the scheduler waits for the whole run.",
  },
} satisfies Record<FunctionName, Sizing>;

/** machinesCreate -> machines-create: Cloud Run service names are lower-case. */
export function kebab(fn: string): string {
  return fn.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

export interface FunctionEntry {
  name: string;
  entry_point: string;
  audience: Audience;
  description: string;
  routes: { methods: HttpMethod[]; path: string }[];
  memory: string;
  cpu: string;
  concurrency: number;
  timeout_seconds: number;
  max_instances: number;
  sizing_note: string;
}

export interface FunctionsDocument {
  generated_by: string;
  functions: Record<string, FunctionEntry>;
}

export function buildFunctionsDocument(): FunctionsDocument {
  const functions: Record<string, FunctionEntry> = {};
  for (const route of routes) {
    const s: Sizing = sizing[route.fn];
    const existing = functions[route.fn];
    if (existing) {
      if (existing.audience !== route.audience) throw new Error(`${route.fn} has routes of two audiences`);
      existing.routes.push({ methods: [...route.methods], path: route.path });
      existing.description += `; ${route.summary}`;
      continue;
    }
    functions[route.fn] = {
      name: kebab(route.fn),
      entry_point: route.fn,
      audience: route.audience,
      description: route.summary,
      routes: [{ methods: [...route.methods], path: route.path }],
      memory: s.memory,
      cpu: s.cpu,
      concurrency: s.concurrency,
      timeout_seconds: s.timeoutSeconds,
      max_instances: s.maxInstances,
      sizing_note: s.why,
    };
  }
  return { generated_by: 'scripts/generate-deploy-artifacts.ts from shared/routes.ts (npm run generate); do not edit', functions };
}

/**
 * Audiences whose gateway operations need a Google-signed ID token (securityDefinitions
 * google_id_token). The gateway verifies it and forwards its claims in
 * X-Apigateway-Api-Userinfo; the admin functions (ADMIN_AUTH=gateway) then check the
 * email against ADMIN_PRINCIPALS.
 */
export const authenticatedAudiences: readonly Audience[] = ['admin', 'internal'];

/** The placeholder api_gateway.tf's templatefile() replaces with the function's URL. */
export function backendPlaceholder(fn: string): string {
  return `\${backends.${fn}}`;
}

/** The placeholder templatefile() replaces with the audience admin ID tokens must carry. */
export const audiencePlaceholder = '${admin_token_audience}';

function pathParams(p: string): string[] {
  return [...p.matchAll(/\{([^}]+)\}/g)].map((m) => m[1] as string);
}

type Yaml = string | number | boolean | Yaml[] | { [key: string]: Yaml };

/** Literal text inside a Terraform template: `${` and `%{` must be doubled. */
function templateLiteral(s: string): string {
  return s.replace(/\$\{/g, '$${').replace(/%\{/g, '%%{');
}

function scalar(v: string | number | boolean): string {
  return typeof v === 'string' ? JSON.stringify(v) : String(v);
}

function yamlKey(k: string): string {
  return /^[A-Za-z_][\w.-]*$/.test(k) ? k : JSON.stringify(k);
}

/** A small, deterministic YAML writer (block style, strings JSON-quoted: valid YAML 1.2). */
function toYaml(value: Yaml, indent = 0): string {
  const pad = ' '.repeat(indent);
  if (Array.isArray(value)) {
    return value
      .map((item) => {
        if (typeof item === 'object') {
          const inner = toYaml(item, indent + 2).trimStart();
          return `${pad}- ${inner}`;
        }
        return `${pad}- ${scalar(item)}\n`;
      })
      .join('');
  }
  if (typeof value === 'object') {
    return Object.entries(value)
      .map(([k, v]) => {
        if (typeof v === 'object' && (Array.isArray(v) ? v.length > 0 : Object.keys(v).length > 0)) {
          return `${pad}${yamlKey(k)}:\n${toYaml(v, indent + 2)}`;
        }
        if (typeof v === 'object') return `${pad}${yamlKey(k)}: ${Array.isArray(v) ? '[]' : '{}'}\n`;
        return `${pad}${yamlKey(k)}: ${scalar(v)}\n`;
      })
      .join('');
  }
  return `${pad}${scalar(value)}\n`;
}

/**
 * The OpenAPI 2.0 document as a JS object, placeholders in place of backend URLs. Without
 * `withBoot`, the routes of the opt-in audiences (boot) are left out.
 */
export function buildOpenApiObject({ withBoot }: { withBoot: boolean }): Record<string, Yaml> {
  const paths: Record<string, Record<string, Yaml>> = {};
  for (const route of routes) {
    if (!withBoot && optInAudiences.includes(route.audience)) continue;
    const s: Sizing = sizing[route.fn];
    const item = (paths[route.path] ??= {});
    for (const method of route.methods) {
      const op: Record<string, Yaml> = {
        operationId: route.methods.length > 1 ? `${route.fn}_${method.toLowerCase()}` : route.fn,
        summary: templateLiteral(route.summary),
        tags: [route.audience],
      };
      const params = pathParams(route.path);
      if (params.length > 0) op.parameters = params.map((name) => ({ name, in: 'path', required: true, type: 'string' }));
      if (authenticatedAudiences.includes(route.audience)) op.security = [{ google_id_token: [] }];
      op['x-google-backend'] = {
        address: backendPlaceholder(route.fn),
        jwt_audience: backendPlaceholder(route.fn),
        path_translation: 'APPEND_PATH_TO_ADDRESS',
        deadline: s.timeoutSeconds,
      };
      op.responses = { default: { description: 'The function\'s answer; errors are application/problem+json' } };
      item[method.toLowerCase()] = op;
    }
  }
  return {
    swagger: '2.0',
    info: {
      title: 'netboot control plane',
      description: templateLiteral('Generated from shared/routes.ts by scripts/generate-deploy-artifacts.ts.'),
      version: '1.0.0',
    },
    schemes: ['https'],
    securityDefinitions: {
      google_id_token: {
        authorizationUrl: '',
        flow: 'implicit',
        type: 'oauth2',
        'x-google-issuer': 'https://accounts.google.com',
        'x-google-jwks_uri': 'https://www.googleapis.com/oauth2/v3/certs',
        'x-google-audiences': audiencePlaceholder,
      },
    },
    paths,
  };
}

export function buildOpenApiTemplate({ withBoot }: { withBoot: boolean }): string {
  const header = [
    '# GENERATED by scripts/generate-deploy-artifacts.ts from shared/routes.ts (npm run generate): do not edit.',
    '# A Terraform template: terraform/api_gateway.tf renders it with templatefile(), replacing each',
    "# backend placeholder with that function's URL and the audience placeholder with admin_token_audience.",
    withBoot
      ? '# With the boot operations: used only when boot_on_api_gateway = true.'
      : '# Without the boot operations (the default): boot traffic goes through the internal load balancer.',
  ].join('\n');
  return `${header}\n${toYaml(buildOpenApiObject({ withBoot }))}`;
}

/** Relative path -> expected content of every generated file. */
export function renderArtifacts(): Map<string, string> {
  return new Map([
    [functionsJsonPath, `${JSON.stringify(buildFunctionsDocument(), null, 2)}\n`],
    [openApiPath, buildOpenApiTemplate({ withBoot: false })],
    [openApiWithBootPath, buildOpenApiTemplate({ withBoot: true })],
    [openApiV3Path, openApiText()],
  ]);
}

/** Generated files whose content on disk differs from what the route table gives. */
export function staleArtifacts(root = repoRoot): string[] {
  const stale: string[] = [];
  for (const [rel, content] of renderArtifacts()) {
    let current: string | undefined;
    try {
      current = readFileSync(path.join(root, rel), 'utf8');
    } catch {
      current = undefined;
    }
    if (current !== content) stale.push(rel);
  }
  return stale;
}

function main(): void {
  if (process.argv.includes('--check')) {
    const stale = staleArtifacts();
    if (stale.length > 0) {
      process.stderr.write(`out of date (run npm run generate): ${stale.join(', ')}\n`);
      process.exitCode = 1;
    }
    return;
  }
  for (const [rel, content] of renderArtifacts()) {
    writeFileSync(path.join(repoRoot, rel), content);
    process.stdout.write(`wrote ${rel}\n`);
  }
}

if (require.main === module) main();
