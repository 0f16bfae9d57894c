import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { format } from '@cdktf/hcl-tools';
import { beforeAll, describe, expect, it } from 'vitest';
import { collections } from '../../shared/inventory/firestore-inventory';
import { routes } from '../../shared/routes';
import type { FunctionsDocument } from '../../scripts/generate-deploy-artifacts';
import { expressions, get, hasTerraform, loadModule, parseTfFile, referenced, repoRoot, strings, terraformDir, tfFileNames, type Json, type TfModule, resourceOf } from './terraform-files';

const routeFns = [...new Set(routes.map((r) => r.fn))].sort();
const audiences = [...new Set(routes.map((r) => r.audience))].sort();
const functionsJson = JSON.parse(readFileSync(path.join(terraformDir, 'functions.json'), 'utf8')) as FunctionsDocument;

/** The keys of the zod schema in shared/config.ts: every environment variable the code reads. */
function configKeys(): string[] {
  const source = readFileSync(path.join(repoRoot, 'shared/config.ts'), 'utf8');
  const start = source.indexOf('z.object({');
  const end = source.indexOf('\n});', start);
  if (start < 0 || end < 0) throw new Error('shared/config.ts: no z.object({ ... }) schema found');
  return [...source.slice(start, end).matchAll(/^\s{2}([A-Z][A-Z0-9_]*)\s*:/gm)].map((m) => m[1] as string).sort();
}

/** Variables only tests and the local stack set; production must never carry them (it signs URLs through IAM). */
const testOnlyConfig = new Set(['FIRESTORE_EMULATOR_HOST', 'STORAGE_EMULATOR_HOST', 'STORAGE_SIGNING_CREDENTIALS', 'LOCAL_AUTH_PUBLIC_KEY_FILE']);

let mod: TfModule;
beforeAll(async () => {
  mod = await loadModule();
});

const resource = (address: string) => resourceOf(mod, address);

describe('terraform files', () => {
  it.each(tfFileNames())('%s parses as HCL', async (name) => {
    await expect(parseTfFile(name)).resolves.toBeTruthy();
  });

  it.each(tfFileNames())('%s is formatted as terraform fmt writes it', async (name) => {
    const source = readFileSync(path.join(terraformDir, name), 'utf8');
    expect(await format(source)).toBe(source);
    // terraform fmt also unwraps interpolation-only strings and legacy quoted types.
    expect(source).not.toMatch(/=\s*"\$\{[^"$]*\}"\s*$/m);
    expect(source).not.toMatch(/^\s*type\s*=\s*"(string|list|map)"\s*$/m);
  });

  it.skipIf(!hasTerraform())('passes terraform fmt -check (where Terraform is installed)', () => {
    expect(() => execFileSync('terraform', ['fmt', '-check', '-recursive'], { cwd: terraformDir, stdio: 'pipe' })).not.toThrow();
  });

  it('is split into files that say what they hold', () => {
    expect(tfFileNames()).toEqual(
      expect.arrayContaining(['versions.tf', 'variables.tf', 'functions.tf', 'iam.tf', 'service_accounts.tf', 'storage.tf', 'firestore.tf', 'api_gateway.tf', 'internal_lb.tf', 'scheduler.tf', 'outputs.tf']),
    );
  });
});

describe('references', () => {
  it('declares every variable it uses, and uses every variable it declares', () => {
    const used = referenced(mod, 'var');
    const declared = new Set(mod.variables.keys());
    expect([...used].filter((v) => !declared.has(v))).toEqual([]);
    expect([...declared].filter((v) => !used.has(v))).toEqual([]);
  });

  it('declares every local it uses', () => {
    const used = referenced(mod, 'local');
    expect([...used].filter((l) => !mod.locals.has(l))).toEqual([]);
  });

  it('refers only to resources it declares', () => {
    const missing = new Set<string>();
    for (const file of mod.files) {
      for (const expr of expressions(file.json)) {
        for (const m of expr.matchAll(/(?<![\w.])(google(?:_[a-z0-9]+)+)\.([a-z_][a-z0-9_]*)/g)) {
          if (!mod.resources.has(`${m[1]}.${m[2]}`)) missing.add(`${m[1]}.${m[2]} (${file.name})`);
        }
      }
    }
    expect([...missing]).toEqual([]);
  });

  it('names only functions of the route table', () => {
    const named = new Set<string>();
    const keyed =
      /(?:local\.(?:functions|boot_functions|function_uri|run_service|ingress|uses_vpc_connector)|google_cloudfunctions2_function\.fn|google_compute_region_(?:backend_service|network_endpoint_group)\.boot)\["([^"]+)"\]/g;
    for (const file of mod.files) {
      for (const expr of expressions(file.json)) for (const m of expr.matchAll(keyed)) named.add(m[1] as string);
    }
    named.add(mod.locals.get('sweeper') as string);
    expect([...named].filter((fn) => !(routeFns as string[]).includes(fn))).toEqual([]);
  });
});

describe('functions', () => {
  it('functions.json lists exactly the route table, each with entry point = function name', () => {
    expect(Object.keys(functionsJson.functions).sort()).toEqual(routeFns);
    for (const route of routes) {
      const f = functionsJson.functions[route.fn];
      expect(f?.entry_point).toBe(route.fn);
      expect(f?.audience).toBe(route.audience);
      expect(f?.routes).toContainEqual({ methods: [...route.methods], path: route.path });
    }
  });

  it('Terraform reads the function list from functions.json, one function resource each', () => {
    // Each entry as generated, with the boot path's max instances from variables (boot_storm.tf).
    expect(mod.locals.get('functions')).toBe('${{ for name, f in jsondecode(file("${path.module}/functions.json")).functions : name => merge(f, { max_instances = lookup(local.max_instances_from_variables, name, f.max_instances) }) }}');
    const fn = resource('google_cloudfunctions2_function.fn');
    expect(fn.for_each).toBe('${local.functions}');
    expect(get(fn, 'build_config', 'entry_point')).toBe('${each.value.entry_point}');
    // The deployed runtime is the Node.js major the tests run on (the `node` devDependency).
    expect(get(fn, 'build_config', 'runtime')).toBe(`nodejs${process.versions.node.split('.')[0]}`);
    expect(get(fn, 'build_config', 'runtime')).toBe('nodejs24');
    expect(get(fn, 'build_config', 'source', 'storage_source', 'object')).toBe('${google_storage_bucket_object.source.name}');
    const kinds = [...mod.resources.keys()].filter((k) => k.startsWith('google_cloudfunctions2_function.'));
    expect(kinds).toEqual(['google_cloudfunctions2_function.fn']);
  });

  it('sizes every function from functions.json, within the platform limits', () => {
    const svc = get(resource('google_cloudfunctions2_function.fn'), 'service_config');
    expect(get(svc, 'available_memory')).toBe('${each.value.memory}');
    expect(get(svc, 'available_cpu')).toBe('${each.value.cpu}');
    expect(get(svc, 'max_instance_request_concurrency')).toBe('${each.value.concurrency}');
    expect(get(svc, 'timeout_seconds')).toBe('${each.value.timeout_seconds}');
    expect(get(svc, 'max_instance_count')).toBe('${each.value.max_instances}');
    for (const [name, f] of Object.entries(functionsJson.functions)) {
      expect(f.timeout_seconds, name).toBeGreaterThan(0);
      expect(f.timeout_seconds, name).toBeLessThanOrEqual(3600);
      if (f.concurrency > 1) expect(Number(f.cpu), `${name}: concurrency > 1 needs 1 vCPU`).toBeGreaterThanOrEqual(1);
      expect(f.sizing_note.length, name).toBeGreaterThan(20);
    }
    // Uploads buffer up to 32 MiB and stream it on: one per instance, room to spare.
    for (const name of ['profilesCreate', 'profilesUpdate']) {
      expect(functionsJson.functions[name]?.memory).toBe('1Gi');
      expect(functionsJson.functions[name]?.concurrency).toBe(1);
    }
    expect(functionsJson.functions.blobsSweep?.timeout_seconds).toBeGreaterThan(functionsJson.functions.bootScript?.timeout_seconds ?? Infinity);
  });

  it('gives every function a service account of its audience, one per role', () => {
    const svc = get(resource('google_cloudfunctions2_function.fn'), 'service_config');
    expect(get(svc, 'service_account_email')).toBe('${google_service_account.runtime[each.value.audience].email}');
    const accounts = mod.locals.get('runtime_accounts') as Record<string, string>;
    expect(Object.keys(accounts).sort()).toEqual(audiences);
    expect(new Set(Object.values(accounts)).size).toBe(audiences.length);
    expect(resource('google_service_account.runtime').for_each).toBe('${local.runtime_accounts}');
    const permissions = mod.locals.get('runtime_permissions') as Record<string, Json>;
    expect(Object.keys(permissions).sort()).toEqual(audiences);
  });

  it("carries every configuration variable the code reads in every function's environment", () => {
    const svc = get(resource('google_cloudfunctions2_function.fn'), 'service_config');
    expect(get(svc, 'environment_variables')).toBe('${local.function_env[each.key]}');
    // Per function: the shared environment plus its front door's TRUSTED_PROXY_HOPS, and behind the
    // internal load balancer the secret of the load balancer's mark (FRONT_DOOR_SECRET).
    expect(String(mod.locals.get('function_env')).replace(/\s*#[^\n]*\n/g, '\n')).toMatch(
      /^\$\{\{\s*for name, f in local\.functions : name => merge\(local\.function_env_base, local\.function_env_optional, \{\s*TRUSTED_PROXY_HOPS = tostring\(local\.front_door_hops\[local\.front_door\[name\]\]\)\s*\}, local\.front_door\[name\] == "internal_lb" && var\.front_door_secret != null \? \{\s*FRONT_DOOR_SECRET = var\.front_door_secret\s*\} : \{\}\)\s*\}\}$/,
    );
    const base = mod.locals.get('function_env_base') as Record<string, string>;
    const optional = [...String(mod.locals.get('function_env_optional')).matchAll(/\b([A-Z][A-Z0-9_]*)\s*=/g)].map((m) => m[1] as string);
    const envKeys = [...Object.keys(base), ...optional, 'TRUSTED_PROXY_HOPS', 'FRONT_DOOR_SECRET'].sort();
    expect(envKeys).toEqual(configKeys().filter((k) => !testOnlyConfig.has(k)));
    expect(optional).toEqual(['STORAGE_PUBLIC_URL']);
    // Each comes from a Terraform variable of the same name (lower case), except the derived ones.
    const derived: Record<string, string> = {
      GOOGLE_CLOUD_PROJECT: 'var.project_id',
      BLOB_BUCKET: 'google_storage_bucket.blobs.name',
      BOOT_ALLOWED_CIDRS: 'local.boot_allowed_cidrs',
      // Admin requests come only through API Gateway, which verifies the ID token.
      ADMIN_AUTH: 'gateway',
      ADMIN_PRINCIPALS: 'var.admin_principals',
      // Gateway mode checks that the caller is the gateway's own account.
      ADMIN_GATEWAY_SERVICE_ACCOUNT: 'google_service_account.gateway.email',
      ADMIN_GATEWAY_SERVICE_ACCOUNT_ID: 'google_service_account.gateway.unique_id',
      RATE_LIMIT_DATABASE: 'google_firestore_database.rate_limits.name',
      // Per deployment unless the variable names one (test/infra/admin-audience.test.ts).
      ADMIN_TOKEN_AUDIENCE: 'local.admin_token_audience',
    };
    for (const [key, value] of Object.entries(base)) {
      expect(value, key).toContain(derived[key] ?? `var.${key.toLowerCase()}`);
      if (!derived[key]) expect(mod.variables.has(key.toLowerCase()), key).toBe(true);
    }
    expect(String(mod.locals.get('boot_allowed_cidrs'))).toContain('var.boot_allowed_cidrs');
    expect(mod.variables.has('storage_public_url')).toBe(true);
    expect(mod.variables.get('storage_public_url')?.default).toBeNull();
  });

  it('restricts boot functions to internal and load-balancer traffic when the internal load balancer is enabled', () => {
    const ingress = String(mod.locals.get('ingress'));
    expect(ingress).toContain('f.audience == "boot" && var.enable_internal_lb ? "ALLOW_INTERNAL_AND_GCLB" : "ALLOW_ALL"');
    expect(get(resource('google_cloudfunctions2_function.fn'), 'service_config', 'ingress_settings')).toBe('${local.ingress[each.key]}');
  });
});

describe('data stores', () => {
  it('keeps blobs in a private bucket', () => {
    const bucket = resource('google_storage_bucket.blobs');
    expect(bucket.uniform_bucket_level_access).toBe(true);
    expect(bucket.public_access_prevention).toBe('enforced');
  });

  it('creates a native-mode Firestore database and the composite index the machine list needs', () => {
    expect(resource('google_firestore_database.default').type).toBe('FIRESTORE_NATIVE');
    const index = resource('google_firestore_index.machines_by_mac_then_id');
    expect(index.collection).toBe(collections.machines);
    expect(index.fields).toEqual([
      { field_path: 'macs', array_config: 'CONTAINS' },
      { field_path: 'id', order: 'ASCENDING' },
    ]);
  });
});

describe('least privilege', () => {
  it('grants nobody a basic role', () => {
    const all = mod.files.flatMap((f) => strings(f.json));
    expect(all.filter((s) => /roles\/(owner|editor|viewer)\b/.test(s))).toEqual([]);
  });

  it('lets only the boot functions sign URLs, as themselves, through the IAM Credentials API', () => {
    const permissions = mod.locals.get('runtime_permissions') as Record<string, { signs_urls: boolean }>;
    expect(Object.entries(permissions).filter(([, p]) => p.signs_urls).map(([a]) => a)).toEqual(['boot']);
    const grant = resource('google_service_account_iam_member.runtime_signs_urls');
    expect(grant.role).toBe('roles/iam.serviceAccountTokenCreator');
    expect(grant.service_account_id).toBe('${google_service_account.runtime[each.key].name}');
    expect(grant.member).toBe('serviceAccount:${google_service_account.runtime[each.key].email}');
    expect(String(mod.locals.get('apis'))).toContain('iamcredentials.googleapis.com');
  });

  it('lets admin write (and clean up), boot record boots, the sweeper release blobs, and health only read', () => {
    const p = mod.locals.get('runtime_permissions') as Record<string, { firestore_role: string; bucket_roles: Record<string, string> }>;
    // Boot writes boot records, discoveries and the once -> disabled switch; the sweeper deletes blob-index documents.
    for (const writer of ['admin', 'boot', 'internal']) expect(p[writer]?.firestore_role, writer).toBe('roles/datastore.user');
    expect(p.health?.firestore_role).toBe('roles/datastore.viewer');
    const roles = mod.locals.get('blob_roles') as Record<string, string[]>;
    expect(roles).toEqual({
      writer: ['storage.objects.create', 'storage.objects.delete', 'storage.objects.get'],
      sweeper: ['storage.objects.delete', 'storage.objects.get', 'storage.objects.list'],
    });
    expect(Object.values(p.admin?.bucket_roles ?? {})).toEqual(['${local.blob_role_names.writer}']);
    expect(Object.values(p.internal?.bucket_roles ?? {})).toEqual(['${local.blob_role_names.sweeper}']);
    expect(Object.values(p.boot?.bucket_roles ?? {})).toEqual(['roles/storage.objectViewer']);
    expect(Object.values(p.health?.bucket_roles ?? {})).toEqual(['roles/storage.objectViewer']);
    expect(resource('google_project_iam_custom_role.blob').permissions).toBe('${each.value}');
    expect(resource('google_storage_bucket_iam_member.runtime_blobs').bucket).toBe('${google_storage_bucket.blobs.name}');
  });
});

describe('front door and scheduler', () => {
  it('configures API Gateway from the generated OpenAPI template with every function URL', () => {
    expect(String(mod.locals.get('openapi_document'))).toMatch(
      /^\$\{templatefile\("\$\{path\.module\}\/\$\{var\.boot_on_api_gateway \? "openapi-with-boot\.yaml" : "openapi\.yaml"\}", \{\s+backends\s+= local\.function_uri\s+admin_token_audience = local\.admin_token_audience\s+\}\)\}$/,
    );
    expect(String(mod.locals.get('function_uri'))).toContain('for name, f in google_cloudfunctions2_function.fn');
    const config = resource('google_api_gateway_api_config.this');
    expect(get(config, 'openapi_documents', 'document', 'contents')).toBe('${base64encode(local.openapi_document)}');
    expect(get(config, 'gateway_config', 'backend_config', 'google_service_account')).toBe('${google_service_account.gateway.email}');
    // Every function but the internal ones, which authenticate nobody themselves, and the
    // boot functions unless boot_on_api_gateway publishes them there.
    expect(resource('google_cloud_run_service_iam_member.gateway_invokes').for_each).toBe(
      '${{ for name, f in local.functions : name => f if f.audience != "internal" && (f.audience != "boot" || var.boot_on_api_gateway) }}',
    );
    expect(resource('google_cloud_run_service_iam_member.scheduler_invokes_sweeper').service).toBe('${local.run_service[local.sweeper]}');
  });

  it('calls the sweeper hourly with POST and an OIDC token', () => {
    const sweeper = mod.locals.get('sweeper') as string;
    const route = routes.find((r) => r.fn === sweeper);
    expect(route?.audience).toBe('internal');
    expect(route?.methods).toContain('POST');
    const job = resource('google_cloud_scheduler_job.sweep');
    expect(mod.variables.get('sweep_schedule')?.default).toBe('0 * * * *');
    const target = get(job, 'http_target');
    expect(get(target, 'http_method')).toBe('POST');
    expect(get(target, 'uri')).toBe('${local.function_uri[local.sweeper]}${local.sweep_route.path}');
    expect(get(target, 'oidc_token', 'service_account_email')).toBe('${google_service_account.scheduler.email}');
  });

  it('outputs the gateway URL and the exact iPXE chain line', () => {
    expect(get(mod.outputs.get('gateway_url') as Json, 'value')).toBe('https://${google_api_gateway_gateway.this.default_hostname}');
    expect(get(mod.outputs.get('ipxe_chain') as Json, 'value')).toBe(
      '${var.boot_on_api_gateway ? "chain https://${google_api_gateway_gateway.this.default_hostname}/boot.ipxe?mac=$${net0/mac}&arch=$${buildarch}&platform=$${platform}" : null}',
    );
  });

  it('routes every boot path of the route table on the internal load balancer', () => {
    expect(mod.locals.get('boot_functions')).toBe('${{ for name, f in local.functions : name => f if f.audience == "boot" }}');
    for (const type of ['google_compute_region_network_endpoint_group.boot', 'google_compute_region_backend_service.boot']) {
      expect(resource(type).for_each).toBe('${{ for name, f in local.boot_functions : name => f if var.enable_internal_lb }}');
    }
    expect(get(resource('google_compute_region_url_map.boot'), 'path_matcher', 'dynamic', 'route_rules', 'for_each')).toBe('${local.boot_routes}');
    expect(resource('google_compute_region_backend_service.boot').security_policy).toContain('google_compute_region_security_policy.boot');
    expect(get(resource('google_compute_region_security_policy.boot'), 'rules', 'action')).toBe('rate_based_ban');
  });
});
