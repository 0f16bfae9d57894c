/**
 * Who can reach the boot routes (issue 11): the Terraform defaults publish them nowhere, a
 * plan without a front door or with 0.0.0.0/0 fails, and every function trusts its own front
 * door's X-Forwarded-For hop count.
 *
 * terraform/boot_exposure.tf depends only on variables and functions.json, so where a
 * Terraform binary is installed the checks run it for real: variables.tf and
 * boot_exposure.tf are copied into a scratch module (the builtin terraform_data resource
 * needs no provider download), planned with each set of inputs, and the validation and
 * precondition errors or the computed values are read back. Without Terraform, the static
 * checks below still pin the expressions.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FunctionsDocument } from '../../scripts/generate-deploy-artifacts';
import { routes } from '../../shared/routes';
import { get, hasTerraform, loadModule, terraformDir, type Json, type TfModule } from './terraform-files';

const functionsJson = JSON.parse(readFileSync(path.join(terraformDir, 'functions.json'), 'utf8')) as FunctionsDocument;
const bootFns = [...new Set(routes.filter((r) => r.audience === 'boot').map((r) => r.fn))];
const bootPaths = routes.filter((r) => r.audience === 'boot').map((r) => r.path);

let mod: TfModule;
beforeAll(async () => {
  mod = await loadModule();
});

describe('boot routes fail closed (static)', () => {
  it('defaults: boot routes neither on the gateway nor admitted from any address', () => {
    expect(mod.variables.get('boot_on_api_gateway')?.default).toBe(false);
    expect(mod.variables.get('boot_allow_any_address')?.default).toBe(false);
    expect(mod.variables.get('enable_internal_lb')?.default).toBe(false);
    expect(mod.variables.get('boot_allowed_cidrs')?.default).toBeNull();
    // Null CIDRs without the internal load balancer give the empty list: nobody.
    expect(String(mod.locals.get('boot_allowed_cidrs'))).toContain('var.boot_allowed_cidrs != null ? var.boot_allowed_cidrs : var.enable_internal_lb ? local.private_ranges : []');
    expect(String(mod.locals.get('boot_allowed_cidrs'))).toContain('var.boot_allow_any_address ? ["0.0.0.0/0", "::/0"] : []');
    // The gateway may invoke the boot functions only with the opt-in.
    expect(String(mod.resources.get('google_cloud_run_service_iam_member.gateway_invokes')?.for_each)).toContain('(f.audience != "boot" || var.boot_on_api_gateway)');
    // The default gateway document has no boot operation (openapi.test.ts renders both).
    const defaultDoc = readFileSync(path.join(terraformDir, 'openapi.yaml'), 'utf8');
    for (const p of bootPaths) expect(defaultDoc).not.toContain(`"${p}":`);
    expect(String(mod.locals.get('openapi_document'))).toContain('var.boot_on_api_gateway ? "openapi-with-boot.yaml" : "openapi.yaml"');
    expect(get(mod.outputs.get('ipxe_chain') as Json, 'value')).toMatch(/^\$\{var\.boot_on_api_gateway \? .* : null\}$/);
  });

  it('boot_allowed_cidrs has a validation that refuses /0 (and anything broader than /8 or /16)', () => {
    const validation = get(mod.variables.get('boot_allowed_cidrs') as Json, 'validation') as Record<string, string>;
    expect(validation.condition).toContain('can(cidrhost(c, 0)) && try(tonumber(split("/", c)[1]) >= (strcontains(c, ":") ? 16 : 8), false)');
    expect(validation.error_message).toMatch(/0\.0\.0\.0\/0 and ::\/0 are refused/);
    expect(validation.error_message).toContain('boot_allow_any_address = true');
  });

  it('a plan without a boot front door, or with both, or on the gateway without ranges, is refused by preconditions', () => {
    const pre = get(mod.resources.get('terraform_data.boot_front_door') as Json, 'lifecycle', 'precondition') as unknown as { condition: string; error_message: string }[];
    expect(pre.map((p) => p.condition)).toEqual([
      '${var.enable_internal_lb || var.boot_on_api_gateway}',
      '${!(var.enable_internal_lb && var.boot_on_api_gateway)}',
      '${!var.enable_internal_lb || var.front_door_secret != null}',
      '${!var.boot_on_api_gateway || length(local.boot_cidrs_given) > 0 || var.boot_allow_any_address}',
    ]);
    expect(pre[0]?.error_message).toMatch(/set enable_internal_lb = true.*boot_on_api_gateway = true and boot_allowed_cidrs/s);
    expect(pre[3]?.error_message).toMatch(/set boot_allowed_cidrs = \[/);
  });

  it("gives each function its own front door's hop count", () => {
    expect(String(mod.locals.get('front_door'))).toContain('f.audience == "internal" ? "function_url" :');
    expect(String(mod.locals.get('front_door'))).toContain('f.audience == "boot" && var.enable_internal_lb ? "internal_lb" : "api_gateway"');
    expect(mod.locals.get('front_door_hops')).toEqual({
      api_gateway: '${var.trusted_proxy_hops_api_gateway}',
      internal_lb: '${var.trusted_proxy_hops_internal_lb}',
      function_url: 1,
    });
    // The platform facts (README, Security): the load balancer appends client and its own address.
    expect(mod.variables.get('trusted_proxy_hops_api_gateway')?.default).toBe(2);
    expect(mod.variables.get('trusted_proxy_hops_internal_lb')?.default).toBe(2);
    expect(mod.variables.has('trusted_proxy_hops')).toBe(false);
  });

  it('lets nobody but the internal load balancer invoke a function unauthenticated', () => {
    const withAllUsers = [...mod.resources].filter(([, r]) => JSON.stringify(r).includes('allUsers')).map(([k]) => k);
    expect(withAllUsers).toEqual(['google_cloud_run_service_iam_member.internal_lb_invokes_boot']);
    expect(mod.resources.get('google_cloud_run_service_iam_member.internal_lb_invokes_boot')?.for_each).toBe('${{ for name, f in local.boot_functions : name => f if var.enable_internal_lb }}');
  });
});

describe.skipIf(!hasTerraform())('boot routes fail closed (evaluated by Terraform)', () => {
  let dir: string;
  const env = { ...process.env, TF_CLI_CONFIG_FILE: '/dev/null', TF_IN_AUTOMATION: '1', CHECKPOINT_DISABLE: '1' };

  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'boot-exposure-'));
    for (const f of ['variables.tf', 'boot_exposure.tf', 'functions.json']) copyFileSync(path.join(terraformDir, f), path.join(dir, f));
    // What functions.tf does with these locals: the function list, and each function's TRUSTED_PROXY_HOPS.
    writeFileSync(
      path.join(dir, 'stub.tf'),
      [
        'locals {',
        '  functions = jsondecode(file("${path.module}/functions.json")).functions',
        '}',
        'output "boot_allowed_cidrs" {',
        '  value = local.boot_allowed_cidrs',
        '}',
        'output "trusted_proxy_hops" {',
        '  value = { for name, f in local.functions : name => local.front_door_hops[local.front_door[name]] }',
        '}',
        '',
      ].join('\n'),
    );
    execFileSync('terraform', ['init', '-input=false', '-backend=false', '-no-color'], { cwd: dir, env, stdio: 'pipe' });
  });

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const secret = 'x'.repeat(48);

  /** `terraform plan` with these variables: the error text, or the planned outputs. */
  function plan(vars: Record<string, unknown>): { ok: boolean; error: string; outputs: Record<string, unknown> } {
    const args = ['plan', '-input=false', '-no-color', '-out=plan.tfplan', '-var', 'project_id=p', '-var', 'region=europe-west1'];
    for (const [k, v] of Object.entries(vars)) args.push('-var', `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`);
    const run = spawnSync('terraform', args, { cwd: dir, env, encoding: 'utf8' });
    if (run.status !== 0) return { ok: false, error: `${run.stdout}\n${run.stderr}`.replace(/\s*│\s*/g, ' ').replace(/\s+/g, ' '), outputs: {} };
    const shown = JSON.parse(execFileSync('terraform', ['show', '-json', 'plan.tfplan'], { cwd: dir, env, encoding: 'utf8' })) as {
      planned_values: { outputs: Record<string, { value: unknown }> };
    };
    return { ok: true, error: '', outputs: Object.fromEntries(Object.entries(shown.planned_values.outputs).map(([k, o]) => [k, o.value])) };
  }

  it('the defaults do not plan: the boot routes would have no front door, and the message says what to set', () => {
    const r = plan({});
    expect(r.ok).toBe(false);
    expect(r.error).toContain('have no front door');
    expect(r.error).toContain('enable_internal_lb = true');
    expect(r.error).toContain('boot_on_api_gateway = true and boot_allowed_cidrs');
  });

  it('the default BOOT_ALLOWED_CIDRS, evaluated, is empty: no address', () => {
    const run = spawnSync('terraform', ['console', '-var', 'project_id=p', '-var', 'region=r'], { cwd: dir, env, encoding: 'utf8', input: 'jsonencode(local.boot_allowed_cidrs)\n' });
    expect(run.stdout.trim().split('\n').pop()).toBe('"[]"');
  });

  it.each([['0.0.0.0/0'], ['::/0'], ['0.0.0.0/1'], ['2000::/3'], ['not-a-cidr'], ['10.0.0.0']])('boot_allowed_cidrs = ["%s"] is refused by the validation', (cidr) => {
    const r = plan({ boot_on_api_gateway: true, boot_allowed_cidrs: [cidr] });
    expect(r.ok).toBe(false);
    expect(r.error).toContain('Invalid value for variable');
    expect(r.error).toContain('0.0.0.0/0 and ::/0 are refused');
  });

  it('publishing on the gateway without ranges is refused', () => {
    const r = plan({ boot_on_api_gateway: true });
    expect(r.ok).toBe(false);
    expect(r.error).toContain('boot_on_api_gateway publishes the boot routes on the internet');
  });

  it('both front doors at once are refused', () => {
    const r = plan({ boot_on_api_gateway: true, enable_internal_lb: true, boot_allowed_cidrs: ['203.0.113.0/24'] });
    expect(r.ok).toBe(false);
    expect(r.error).toContain('Set only one of enable_internal_lb and boot_on_api_gateway');
  });

  it('the internal load balancer without front_door_secret is refused, and a short secret by the validation', () => {
    const r = plan({ enable_internal_lb: true });
    expect(r.ok).toBe(false);
    expect(r.error).toContain('enable_internal_lb needs front_door_secret');
    const short = plan({ enable_internal_lb: true, front_door_secret: 'short' });
    expect(short.ok).toBe(false);
    expect(short.error).toContain('front_door_secret must be 32-128 characters');
  });

  it('the VPN case plans: private ranges, boot functions trust the load balancer, admin the gateway', () => {
    const r = plan({ enable_internal_lb: true, front_door_secret: secret });
    expect(r.error).toBe('');
    expect(r.outputs.boot_allowed_cidrs).toEqual(['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7']);
    const hops = r.outputs.trusted_proxy_hops as Record<string, number>;
    for (const [fn, f] of Object.entries(functionsJson.functions)) {
      const expected = f.audience === 'internal' ? 1 : 2;
      expect(hops[fn], fn).toBe(expected);
    }
    const custom = plan({ enable_internal_lb: true, front_door_secret: secret, trusted_proxy_hops_internal_lb: 3 }).outputs.trusted_proxy_hops as Record<string, number>;
    for (const fn of bootFns) expect(custom[fn], fn).toBe(3);
    expect(custom.machinesList).toBe(2);
  });

  it('the gateway opt-in plans with named ranges only, and boot functions trust the gateway', () => {
    const r = plan({ boot_on_api_gateway: true, boot_allowed_cidrs: ['203.0.113.0/24', '2001:db8::/48'], trusted_proxy_hops_api_gateway: 3 });
    expect(r.error).toBe('');
    expect(r.outputs.boot_allowed_cidrs).toEqual(['203.0.113.0/24', '2001:db8::/48']);
    const hops = r.outputs.trusted_proxy_hops as Record<string, number>;
    for (const fn of bootFns) expect(hops[fn], fn).toBe(3);
    expect(hops.blobsSweep).toBe(1);
  });

  it('every address only with the second acknowledgement', () => {
    const r = plan({ boot_on_api_gateway: true, boot_allow_any_address: true });
    expect(r.error).toBe('');
    expect(r.outputs.boot_allowed_cidrs).toEqual(['0.0.0.0/0', '::/0']);
  });
});
