/**
 * The one route table. The local gateway dispatches with it, the API Gateway
 * OpenAPI document and Terraform's function list are generated from it, and each
 * function checks its own requests against it, so none of them can drift.
 */
export type HttpMethod = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** Who calls a route; decides the front door, the service account and the checks. */
export type Audience = 'admin' | 'boot' | 'health' | 'internal' | 'console';

export interface Route {
  /** Function name: the functions-framework target and the Terraform entry point. */
  fn: string;
  methods: readonly HttpMethod[];
  /** `{name}` segments are path parameters. */
  path: string;
  audience: Audience;
  summary: string;
}

export const routes = [
  { fn: 'machinesCreate', methods: ['POST'], path: '/api/v1/machines', audience: 'admin', summary: 'Register a machine' },
  { fn: 'machinesList', methods: ['GET'], path: '/api/v1/machines', audience: 'admin', summary: 'List machines' },
  { fn: 'machinesGet', methods: ['GET'], path: '/api/v1/machines/{id}', audience: 'admin', summary: 'Get a machine' },
  { fn: 'machinesUpdate', methods: ['PUT'], path: '/api/v1/machines/{id}', audience: 'admin', summary: 'Replace a machine' },
  { fn: 'machinesDelete', methods: ['DELETE'], path: '/api/v1/machines/{id}', audience: 'admin', summary: 'Delete a machine' },
  { fn: 'machinesPatch', methods: ['PATCH'], path: '/api/v1/machines/{id}', audience: 'admin', summary: 'Change a machine with a JSON merge patch (e.g. its netboot mode)' },
  { fn: 'machinesBoots', methods: ['GET'], path: '/api/v1/machines/{id}/boots', audience: 'admin', summary: "A machine's last boots and their phases" },
  { fn: 'machinesBootScript', methods: ['GET'], path: '/api/v1/machines/{id}/boot-script', audience: 'admin', summary: "Preview what /boot.ipxe answers a machine (records nothing, spends no boot limit)" },
  { fn: 'bootScriptPreview', methods: ['GET'], path: '/api/v1/boot-script', audience: 'admin', summary: 'Preview what /boot.ipxe answers a MAC (records nothing, spends no boot limit)' },
  { fn: 'discoveriesList', methods: ['GET'], path: '/api/v1/discoveries', audience: 'admin', summary: 'Unknown MACs that asked for a boot script' },
  { fn: 'profilesCreate', methods: ['POST'], path: '/api/v1/profiles', audience: 'admin', summary: 'Create a boot profile' },
  // Before the {machine_id} rows: `default` would match their pattern too (the first match wins).
  { fn: 'defaultProfileGet', methods: ['GET'], path: '/api/v1/boot/default/profile', audience: 'admin', summary: 'Get the default boot profile (what unregistered MACs boot)' },
  { fn: 'defaultProfileSet', methods: ['PUT'], path: '/api/v1/boot/default/profile', audience: 'admin', summary: 'Set (create or replace) the default boot profile' },
  { fn: 'defaultProfileDelete', methods: ['DELETE'], path: '/api/v1/boot/default/profile', audience: 'admin', summary: 'Delete the default boot profile (unregistered MACs get 404 again)' },
  { fn: 'profilesGet', methods: ['GET'], path: '/api/v1/boot/{machine_id}/profile', audience: 'admin', summary: "Get a machine's boot profile" },
  { fn: 'profilesUpdate', methods: ['PUT'], path: '/api/v1/boot/{machine_id}/profile', audience: 'admin', summary: "Replace a machine's boot profile" },
  { fn: 'profilesDelete', methods: ['DELETE'], path: '/api/v1/boot/{machine_id}/profile', audience: 'admin', summary: "Delete a machine's boot profile" },
  { fn: 'profilesCloudInit', methods: ['GET'], path: '/api/v1/boot/{machine_id}/profile/{document}', audience: 'admin', summary: "A boot profile's cloud-init user-data or vendor-data as uploaded (machine_id may be default)" },
  { fn: 'uploadsCreate', methods: ['POST'], path: '/api/v1/uploads', audience: 'admin', summary: 'Open an upload session (large kernel/initrd straight to Cloud Storage)' },
  { fn: 'uploadsGet', methods: ['GET'], path: '/api/v1/uploads/{id}', audience: 'admin', summary: 'Get an upload session' },
  { fn: 'uploadsFinalize', methods: ['POST'], path: '/api/v1/uploads/{id}/finalize', audience: 'admin', summary: "Verify an upload session's files and commit its boot profile" },
  { fn: 'uploadsVerify', methods: ['POST'], path: '/api/v1/uploads/{id}/verify', audience: 'admin', summary: "Hash the parts of an upload session's files that have landed (transfer parts)" },
  { fn: 'uploadsCancel', methods: ['DELETE'], path: '/api/v1/uploads/{id}', audience: 'admin', summary: 'Cancel an upload session' },
  { fn: 'ipxeList', methods: ['GET'], path: '/api/v1/ipxe', audience: 'admin', summary: 'The published iPXE binaries (what GET /ipxe/{file} serves)' },
  { fn: 'ipxeUploadsCreate', methods: ['POST'], path: '/api/v1/ipxe/uploads', audience: 'admin', summary: 'Open an upload session for iPXE binaries (straight to Cloud Storage, content-addressed)' },
  { fn: 'ipxeUploadsFinalize', methods: ['POST'], path: '/api/v1/ipxe/uploads/{id}/finalize', audience: 'admin', summary: "Verify an iPXE upload session's binaries and publish them together" },
  { fn: 'bootScript', methods: ['GET'], path: '/boot.ipxe', audience: 'boot', summary: 'iPXE script for a MAC' },
  { fn: 'assetKernel', methods: ['GET', 'HEAD'], path: '/asset/{boot_profile_id}/kernel', audience: 'boot', summary: 'Kernel of a boot profile' },
  { fn: 'assetInitrd', methods: ['GET', 'HEAD'], path: '/asset/{boot_profile_id}/initrd', audience: 'boot', summary: 'Initrd of a boot profile' },
  { fn: 'ipxeBinary', methods: ['GET', 'HEAD'], path: '/ipxe/{file}', audience: 'boot', summary: 'A published iPXE binary (UEFI HTTP Boot fetches it; no auth, boot network only)' },
  { fn: 'bootReport', methods: ['GET'], path: '/boot/report', audience: 'boot', summary: "A boot script's report that it is about to boot (per-boot token)" },
  { fn: 'bootInstalled', methods: ['POST'], path: '/boot/installed', audience: 'boot', summary: "An installed OS's callback (per-boot token from the kernel line)" },
  { fn: 'metadataUserData', methods: ['GET'], path: '/metadata/{mac}/user-data', audience: 'boot', summary: 'User-data by MAC: always empty (the profile\'s is under the boot\'s own {{metadata_url}})' },
  { fn: 'metadataMetaData', methods: ['GET'], path: '/metadata/{mac}/meta-data', audience: 'boot', summary: 'cloud-init NoCloud meta-data (instance-id, local-hostname) of a MAC' },
  { fn: 'metadataVendorData', methods: ['GET'], path: '/metadata/{mac}/vendor-data', audience: 'boot', summary: 'cloud-init NoCloud vendor-data (empty)' },
  { fn: 'nocloudSeed', methods: ['GET'], path: '/nocloud/{key}/{file}', audience: 'boot', summary: "A boot's own NoCloud seed ({{metadata_url}}): meta-data, user-data, vendor-data, only to the machine that fetched that boot's script" },
  { fn: 'healthStartup', methods: ['GET'], path: '/health/startup', audience: 'health', summary: 'Startup probe' },
  { fn: 'healthLiveness', methods: ['GET'], path: '/health/liveness', audience: 'health', summary: 'Liveness probe' },
  { fn: 'consoleAssets', methods: ['GET', 'HEAD'], path: '/console/{file}', audience: 'console', summary: 'The fleet console: index.html and its content-hashed files (public; it signs in with Google)' },
  { fn: 'blobsSweep', methods: ['POST'], path: '/internal/blobs/sweep', audience: 'internal', summary: 'Delete orphaned blobs' },
] as const satisfies readonly Route[];

export type FunctionName = (typeof routes)[number]['fn'];

export type PathParams = Record<string, string>;

/** Matches a concrete path against a pattern; segments are compared decoded. */
export function matchPath(pattern: string, path: string): PathParams | null {
  const want = pattern.split('/');
  const got = path.split('/');
  if (want.length !== got.length) return null;
  const params: PathParams = {};
  for (let i = 0; i < want.length; i++) {
    const w = want[i] as string;
    const g = got[i] as string;
    if (w.startsWith('{') && w.endsWith('}')) {
      if (g === '') return null;
      let value: string;
      try {
        value = decodeURIComponent(g);
      } catch {
        return null;
      }
      params[w.slice(1, -1)] = value;
    } else if (w !== g) {
      return null;
    }
  }
  return params;
}

export type RouteMatch =
  | { kind: 'found'; route: Route; params: PathParams }
  | { kind: 'wrong-method'; allow: HttpMethod[] }
  | { kind: 'not-found' };

/** Finds the route for a request among `candidates` (all routes, or one function's own). */
export function resolveRoute(method: string, path: string, candidates: readonly Route[] = routes): RouteMatch {
  const allow = new Set<HttpMethod>();
  for (const route of candidates) {
    const params = matchPath(route.path, path);
    if (!params) continue;
    if ((route.methods as readonly string[]).includes(method)) return { kind: 'found', route, params };
    route.methods.forEach((m) => allow.add(m));
  }
  return allow.size > 0 ? { kind: 'wrong-method', allow: [...allow] } : { kind: 'not-found' };
}

export function routesOf(fn: FunctionName): Route[] {
  return routes.filter((r) => r.fn === fn);
}
