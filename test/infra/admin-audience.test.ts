// The admin API's token audience is per deployment (issue 21): unless admin_token_audience says
// otherwise, Terraform derives it from the API's managed service name, so an ID token minted for
// one deployment (staging) is refused by another (production). Read from the HCL itself.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { expressions, get, loadModule, terraformDir, tfFileNames, type Json, type TfModule } from './terraform-files';

let mod: TfModule;
beforeAll(async () => {
  mod = await loadModule();
});

/** Every expression in the module that names `needle`, with the file it is in. */
function uses(needle: string): { file: string; expr: string }[] {
  return mod.files.flatMap((f) => expressions(f.json).filter((e) => e.includes(needle)).map((expr) => ({ file: f.name, expr })));
}

describe('admin token audience', () => {
  it('has no fixed default: the variable is null unless set', () => {
    const variable = mod.variables.get('admin_token_audience') as Record<string, Json>;
    expect(variable).toBeDefined();
    expect(variable.default).toBeNull();
    // No deployment-independent audience anywhere in the module.
    for (const name of tfFileNames()) expect(readFileSync(path.join(terraformDir, name), 'utf8')).not.toMatch(/"netboot-admin"/);
  });

  it('is the variable when set, otherwise the API managed service of this deployment', () => {
    expect(mod.locals.get('admin_token_audience')).toBe('${coalesce(var.admin_token_audience, google_api_gateway_api.this.managed_service)}');
    // The API's id carries the deployment's prefix, and its managed service name the project.
    expect(mod.resources.get('google_api_gateway_api.this')?.api_id).toBe('${var.name_prefix}-api');
  });

  it('is the one audience everything uses: the gateway document, the functions and the output', () => {
    // The variable is read once, by the local (and by its own validation); nothing uses it raw.
    expect(uses('var.admin_token_audience').filter((u) => !(u.file === 'variables.tf' && u.expr.includes('regex(')))).toEqual([{ file: 'api_gateway.tf', expr: '${coalesce(var.admin_token_audience, google_api_gateway_api.this.managed_service)}' }]);
    expect(String(mod.locals.get('openapi_document'))).toMatch(/admin_token_audience = local\.admin_token_audience\b/);
    const envFiles = uses('local.admin_token_audience').map((u) => u.file);
    expect(envFiles).toEqual(expect.arrayContaining(['api_gateway.tf', 'functions.tf', 'outputs.tf']));
    expect(readFileSync(path.join(terraformDir, 'functions.tf'), 'utf8')).toMatch(/^\s*ADMIN_TOKEN_AUDIENCE\s*=\s*local\.admin_token_audience\s*$/m);
    expect(get(mod.outputs.get('admin_token_audience') as Json, 'value')).toBe('${local.admin_token_audience}');
  });

  it('accepts an explicit audience only of characters safe in the OpenAPI YAML and an environment variable', () => {
    const validation = get(mod.variables.get('admin_token_audience') as Json, 'validation') as Record<string, Json>;
    const condition = String(validation.condition);
    const pattern = /can\(regex\("([^"]+)", var\.admin_token_audience\)\)/.exec(condition)?.[1];
    expect(condition).toContain('var.admin_token_audience == null ||');
    expect(pattern).toBeDefined();
    // Terraform's regex is RE2; this pattern means the same in JavaScript.
    const accepted = new RegExp((pattern as string).replace(/\\\\/g, '\\'));
    for (const ok of ['netboot-admin', 'https://admin.example.com', 'netboot-api-0abc123.apigateway.my-project.cloud.goog', '32555940559.apps.googleusercontent.com']) expect(accepted.test(ok), ok).toBe(true);
    for (const bad of ['', 'a"b', 'a b', 'line\nbreak', "it's", 'x'.repeat(257), '${var.x}']) expect(accepted.test(bad), JSON.stringify(bad)).toBe(false);
  });
});
