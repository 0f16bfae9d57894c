// Terraform's front-door pieces for real machines (terraform/ipxe.tf, internal_lb.tf): the
// internal load balancer's certificate from PEM variables or Certificate Manager, and
// `terraform output ipxe_build`, whose expressions are evaluated here by the terraform binary
// itself in a scratch module (no provider needed: resource attributes are given as locals).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { get, hasTerraform, loadModule, type Json, type TfModule, resourceOf } from './terraform-files';

let mod: TfModule;
beforeAll(async () => {
  mod = await loadModule();
});

const resource = (address: string) => resourceOf(mod, address);

describe('the internal load balancer certificate', () => {
  it('comes from the PEM pair or from a Certificate Manager certificate id, each optional', () => {
    for (const name of ['internal_lb_tls_certificate', 'internal_lb_tls_private_key', 'internal_lb_certificate_manager_certificate']) {
      expect(mod.variables.get(name)?.default, name).toBeNull();
    }
    expect(mod.variables.get('internal_lb_tls_private_key')?.sensitive).toBe(true);
    const proxy = resource('google_compute_region_target_https_proxy.boot');
    expect(proxy.ssl_certificates).toBe('${var.internal_lb_tls_certificate != null ? [google_compute_region_ssl_certificate.internal_lb[0].id] : null}');
    expect(proxy.certificate_manager_certificates).toBe('${var.internal_lb_certificate_manager_certificate != null ? [var.internal_lb_certificate_manager_certificate] : null}');
    expect(resource('google_compute_region_ssl_certificate.internal_lb').count).toBe('${local.internal_lb_https && var.internal_lb_tls_certificate != null ? 1 : 0}');
    expect(mod.locals.get('internal_lb_https')).toBe('${var.enable_internal_lb && (var.internal_lb_tls_certificate != null || var.internal_lb_certificate_manager_certificate != null)}');
  });

  it('refuses both at once, a certificate without its key, and no listener at all (preconditions)', () => {
    const conditions = (get(resource('google_compute_address.internal_lb'), 'lifecycle') as Record<string, Json>).precondition as Record<string, Json>[];
    const texts = conditions.map((c) => String(c.condition));
    expect(texts).toContain('${var.internal_lb_tls_certificate == null || var.internal_lb_certificate_manager_certificate == null}');
    expect(texts).toContain('${(var.internal_lb_tls_certificate == null) == (var.internal_lb_tls_private_key == null)}');
    expect(texts).toContain('${var.internal_lb_tls_certificate != null || var.internal_lb_certificate_manager_certificate != null || var.internal_lb_http}');
  });
});

/** hcl2json's `"${expr}"` back to HCL: an interpolation-only string is the expression itself. */
const hcl = (v: Json | undefined): string => {
  if (typeof v !== 'string') throw new Error(`not an expression: ${JSON.stringify(v)}`);
  return v.startsWith('${') && v.endsWith('}') ? v.slice(2, -1) : JSON.stringify(v);
};

interface Scenario {
  enable_internal_lb: boolean;
  boot_on_api_gateway: boolean;
  asset_delivery: 'redirect' | 'proxy';
  internal_lb_tls_certificate?: string;
  internal_lb_certificate_manager_certificate?: string;
  internal_lb_http?: boolean;
}

const canEvaluate = hasTerraform();
if (!canEvaluate) {
  const message = 'terraform output ipxe_build evaluation skipped: no terraform binary';
  if (process.env.CI) throw new Error(`${message} (CI must run it)`);
  process.stdout.write(`\n${message}\n`);
}

describe.skipIf(!canEvaluate)('terraform output ipxe_build (evaluated by terraform)', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'netboot-tf-ipxe-'));
  const env = { ...process.env, TF_CLI_CONFIG_FILE: '/dev/null', TF_IN_AUTOMATION: '1', CHECKPOINT_DISABLE: '1' };
  const tf = (...args: string[]) => execFileSync('terraform', [`-chdir=${dir}`, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });

  beforeAll(() => {
    // The module's own expressions, verbatim; only the resources' attributes stand in as locals.
    const locals = ['internal_lb_https', 'internal_lb_http', 'ipxe_redirect_trust', 'ipxe_front_doors'].map((name) => `  ${name} = ${hcl(mod.locals.get(name))}`);
    const vars = ['enable_internal_lb', 'boot_on_api_gateway', 'asset_delivery', 'internal_lb_tls_certificate', 'internal_lb_certificate_manager_certificate', 'internal_lb_http', 'ipxe_internal_lb_trust_file'];
    const defaults = (name: string) => {
      const v = mod.variables.get(name);
      return [v?.type ? `  type = ${hcl(v.type)}` : '', v?.default === undefined ? '' : `  default = ${JSON.stringify(v.default)}`].join('\n');
    };
    writeFileSync(
      path.join(dir, 'main.tf'),
      [
        ...vars.map((v) => `variable "${v}" {\n${defaults(v)}\n}`),
        'locals {',
        '  gateway_host     = "netboot-gw-1a2b3c.uc.gateway.dev" # google_api_gateway_gateway.this.default_hostname',
        '  internal_lb_host = "10.20.0.5"                         # google_compute_address.internal_lb[0].address',
        ...locals,
        '}',
        `output "ipxe_build" { value = ${hcl(get(mod.outputs.get('ipxe_build') as Json, 'value'))} }`,
        '',
      ].join('\n'),
    );
    tf('init', '-input=false', '-no-color');
  }, 120_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function ipxeBuild(s: Scenario): Record<string, string> {
    const vars = Object.entries(s).flatMap(([k, v]) => ['-var', `${k}=${String(v)}`]);
    tf('apply', '-auto-approve', '-input=false', '-no-color', `-state=${path.join(dir, 'state.tfstate')}`, ...vars);
    return JSON.parse(tf('output', '-json', `-state=${path.join(dir, 'state.tfstate')}`, 'ipxe_build')) as Record<string, string>;
  }

  it('API Gateway (redirect mode): Google\'s roots', () => {
    expect(ipxeBuild({ enable_internal_lb: false, boot_on_api_gateway: true, asset_delivery: 'redirect' })).toEqual({
      api_gateway: 'npx netboot ipxe build --url https://netboot-gw-1a2b3c.uc.gateway.dev --trust-google --out ipxe-api-gateway',
    });
  }, 60_000);

  it('internal load balancer, PEM certificate and HTTP, proxy mode: the operator\'s CA for HTTPS, --insecure-http for HTTP', () => {
    expect(ipxeBuild({ enable_internal_lb: true, boot_on_api_gateway: false, asset_delivery: 'proxy', internal_lb_tls_certificate: 'PEM', internal_lb_http: true })).toEqual({
      internal_lb_https: 'npx netboot ipxe build --url https://10.20.0.5 --trust internal-lb-ca.pem --out ipxe-internal-lb-https',
      internal_lb_http: 'npx netboot ipxe build --url http://10.20.0.5 --insecure-http --out ipxe-internal-lb-http',
    });
  }, 60_000);

  it('internal load balancer with a Certificate Manager certificate in redirect mode: the CA and Google\'s roots (Storage URLs)', () => {
    expect(ipxeBuild({ enable_internal_lb: true, boot_on_api_gateway: false, asset_delivery: 'redirect', internal_lb_certificate_manager_certificate: 'projects/p/locations/europe-west1/certificates/boot' })).toEqual({
      internal_lb_https: 'npx netboot ipxe build --url https://10.20.0.5 --trust internal-lb-ca.pem --trust-google --out ipxe-internal-lb-https',
    });
  }, 60_000);
});
