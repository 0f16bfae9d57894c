/**
 * Terraform's defaults follow the storm model (issue 24, section 2): boot_max_instances,
 * asset_max_instances, rate_limit_boot_global and rate_limit_max_shards are what
 * bench/storm/model.ts recommends at its design point (10,000 machines over 15 minutes,
 * redirect mode, 2 x headroom), and the same values are in shared/config.ts and
 * functions.json. A new storm's costs in the model, or a changed default, fails here with the
 * value to set. Terraform itself evaluates what each function is deployed with.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assetFunctions, bootFunctions, designPoint, measuredCosts, model, recommend, terraformDefaults } from '../../bench/storm/model';
import type { FunctionsDocument } from '../../scripts/generate-deploy-artifacts';
import { loadConfig } from '../../shared/config';
import { requestsPerShardMinute, shardsFor } from '../../shared/ratelimit/policy';
import { hasTerraform, loadModule, terraformDir, type TfModule } from './terraform-files';

const functionsJson = JSON.parse(readFileSync(path.join(terraformDir, 'functions.json'), 'utf8')) as FunctionsDocument;
const config = loadConfig({});

let mod: TfModule;
beforeAll(async () => {
  mod = await loadModule();
});

const defaultOf = (name: string) => mod.variables.get(name)?.default;

describe("Terraform's defaults are the storm model's recommendation at its design point", () => {
  it('the design point is 10,000 machines over 15 minutes with 2 x headroom, from the built-in costs', () => {
    expect(designPoint).toEqual({ machines: 10_000, minutes: 15, headroom: 2 });
    expect(terraformDefaults).toEqual(recommend(designPoint.machines, designPoint.minutes, measuredCosts));
  });

  it('boot_max_instances and asset_max_instances', () => {
    expect(defaultOf('boot_max_instances'), `set boot_max_instances' default to ${terraformDefaults.bootMaxInstances}`).toBe(terraformDefaults.bootMaxInstances);
    expect(defaultOf('asset_max_instances'), `set asset_max_instances' default to ${terraformDefaults.assetMaxInstances}`).toBe(terraformDefaults.assetMaxInstances);
    // functions.json says the same (its sizing notes explain these numbers).
    for (const fn of bootFunctions) expect(functionsJson.functions[fn]?.max_instances, fn).toBe(terraformDefaults.bootMaxInstances);
    for (const fn of assetFunctions) expect(functionsJson.functions[fn]?.max_instances, fn).toBe(terraformDefaults.assetMaxInstances);
    expect(terraformDefaults.assetMaxInstances).toBeGreaterThanOrEqual(terraformDefaults.bootMaxInstances);
  });

  it('rate_limit_boot_global and rate_limit_max_shards, the same in shared/config.ts', () => {
    expect(defaultOf('rate_limit_boot_global')).toBe(terraformDefaults.rateLimitBootGlobal);
    expect(defaultOf('rate_limit_max_shards')).toBe(terraformDefaults.rateLimitMaxShards);
    expect(config.RATE_LIMIT_BOOT_GLOBAL).toBe(terraformDefaults.rateLimitBootGlobal);
    expect(config.RATE_LIMIT_MAX_SHARDS).toBe(terraformDefaults.rateLimitMaxShards);
    // The global counter holds at its own limit: every shard at most one write every two seconds.
    const shards = shardsFor(config.RATE_LIMIT_BOOT_GLOBAL, config.RATE_LIMIT_MAX_SHARDS);
    expect(config.RATE_LIMIT_BOOT_GLOBAL / shards / 60).toBeLessThanOrEqual(0.5);
    expect(shards).toBe(Math.ceil(config.RATE_LIMIT_BOOT_GLOBAL / requestsPerShardMinute));
    // ... and reading its total is one billed read (a sum() over at most 1,000 index entries).
    expect(terraformDefaults.readsPerCountedRequest).toBe(1);
  });

  it('with those defaults the design point crosses no limit in redirect mode', () => {
    const row = model(designPoint.machines, designPoint.minutes, measuredCosts);
    const redirectLimits = row.crossed.filter((c) => !c.limit.includes('proxy mode')).map((c) => `${c.limit}: ${c.detail}`);
    expect(redirectLimits).toEqual([]);
    // Concurrency is not the bound: the boot script's slots at peak are far below one instance's.
    expect(terraformDefaults.scriptSlotsAtPeak).toBeLessThan(1);
  });

  it('a larger storm is told what to set', () => {
    const row = model(100_000, 15, measuredCosts);
    const avoid = row.crossed.map((c) => c.avoid).join('; ');
    expect(avoid).toContain(`boot_max_instances = ${row.recommended.bootMaxInstances}`);
    expect(avoid).toContain(`rate_limit_boot_global = ${row.recommended.rateLimitBootGlobal} and rate_limit_max_shards = ${row.recommended.rateLimitMaxShards}`);
    expect(row.recommended.bootMaxInstances).toBeGreaterThan(terraformDefaults.bootMaxInstances);
    expect(row.recommended.rateLimitMaxShards).toBe(Math.ceil(row.recommended.rateLimitBootGlobal / requestsPerShardMinute));
  });

  it("Terraform's variables validate what shared/config.ts accepts for RATE_LIMIT_MAX_SHARDS (1 to 10,000)", () => {
    const condition = JSON.stringify(mod.variables.get('rate_limit_max_shards')?.validation);
    expect(condition).toContain('var.rate_limit_max_shards >= 1 && var.rate_limit_max_shards <= 10000');
    expect(() => loadConfig({ RATE_LIMIT_MAX_SHARDS: '10000' })).not.toThrow();
    expect(() => loadConfig({ RATE_LIMIT_MAX_SHARDS: '10001' })).toThrow(/RATE_LIMIT_MAX_SHARDS/);
  });
});

describe.skipIf(!hasTerraform())('each function is deployed with those max instances (evaluated by Terraform)', () => {
  let dir: string;
  const env = { ...process.env, TF_CLI_CONFIG_FILE: '/dev/null', TF_IN_AUTOMATION: '1', CHECKPOINT_DISABLE: '1' };

  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'storm-defaults-'));
    for (const f of ['variables.tf', 'boot_storm.tf', 'functions.json']) copyFileSync(path.join(terraformDir, f), path.join(dir, f));
    // functions.tf's own definition of local.functions (the rest of that file needs providers).
    const functionsLocal = /^ {2}functions\s+=\s+(.+)$/m.exec(readFileSync(path.join(terraformDir, 'functions.tf'), 'utf8'))?.[1];
    expect(functionsLocal).toContain('local.max_instances_from_variables');
    writeFileSync(path.join(dir, 'stub.tf'), `locals {\n  functions = ${functionsLocal}\n}\noutput "max_instances" {\n  value = { for name, f in local.functions : name => f.max_instances }\n}\n`);
    execFileSync('terraform', ['init', '-input=false', '-backend=false', '-no-color'], { cwd: dir, env, stdio: 'pipe' });
  });

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  function planned(vars: Record<string, number>): Record<string, number> {
    const args = ['plan', '-input=false', '-no-color', '-out=plan.tfplan', '-var', 'project_id=p', '-var', 'region=europe-west1'];
    for (const [k, v] of Object.entries(vars)) args.push('-var', `${k}=${v}`);
    execFileSync('terraform', args, { cwd: dir, env, stdio: 'pipe' });
    const shown = JSON.parse(execFileSync('terraform', ['show', '-json', 'plan.tfplan'], { cwd: dir, env, encoding: 'utf8' })) as { planned_values: { outputs: { max_instances: { value: Record<string, number> } } } };
    return shown.planned_values.outputs.max_instances.value;
  }

  it('defaults: the model for the boot path, functions.json for every other function', () => {
    const max = planned({});
    for (const [name, f] of Object.entries(functionsJson.functions)) {
      const expected = (bootFunctions as readonly string[]).includes(name) ? terraformDefaults.bootMaxInstances : (assetFunctions as readonly string[]).includes(name) ? terraformDefaults.assetMaxInstances : f.max_instances;
      expect(max[name], name).toBe(expected);
    }
  });

  it('the variables move the boot path, and nothing else', () => {
    const max = planned({ boot_max_instances: 52, asset_max_instances: 60 });
    expect([max.bootScript, max.bootReport, max.assetKernel, max.assetInitrd]).toEqual([52, 52, 60, 60]);
    expect(max.machinesCreate).toBe(functionsJson.functions.machinesCreate?.max_instances);
    expect(max.metadataUserData).toBe(functionsJson.functions.metadataUserData?.max_instances);
  });

  it('refuses a max instances that is not a positive integer', () => {
    expect(() => planned({ boot_max_instances: 0 })).toThrow(/boot_max_instances must be an integer from 1 to 1000/);
  });
});
