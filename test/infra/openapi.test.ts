import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import SwaggerParser from '@apidevtools/swagger-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authenticatedAudiences, optInAudiences, type FunctionsDocument } from '../../scripts/generate-deploy-artifacts';
import { routes } from '../../shared/routes';
import { terraformDir } from './terraform-files';

const template = readFileSync(path.join(terraformDir, 'openapi.yaml'), 'utf8');
const templateWithBoot = readFileSync(path.join(terraformDir, 'openapi-with-boot.yaml'), 'utf8');
/** The routes the default document publishes: all but the opt-in (boot) ones. */
const defaultRoutes = routes.filter((r) => !optInAudiences.includes(r.audience));
const functionsJson = JSON.parse(readFileSync(path.join(terraformDir, 'functions.json'), 'utf8')) as FunctionsDocument;
const fakeUrl = (fn: string) => `https://${fn.toLowerCase()}-abc123-ew.a.run.app`;

const audience = 'netboot-admin-test';

/**
 * What Terraform's templatefile() makes of openapi.yaml with the variables api_gateway.tf
 * passes (`backends` = function URLs, `admin_token_audience`): those are replaced,
 * `$${` and `%%{` unescape, anything else Terraform would treat as a template sequence is
 * an error.
 */
function renderLikeTerraform(text: string, backends: Record<string, string>): string {
  return text.replace(/(\$\$\{|%%\{)|\$\{([^}]*)\}|%\{([^}]*)\}/g, (whole, escape: string | undefined, interp: string | undefined) => {
    if (escape) return escape.slice(1);
    if (interp === 'admin_token_audience') return audience;
    const m = interp?.match(/^backends\.([A-Za-z_][\w-]*)$/);
    if (!m) throw new Error(`openapi.yaml: template sequence Terraform cannot render: ${whole}`);
    const url = backends[m[1] as string];
    if (url === undefined) throw new Error(`openapi.yaml: no function ${m[1]} for ${whole}`);
    return url;
  });
}

interface Operation {
  operationId: string;
  parameters?: { name: string; in: string; required: boolean; type: string }[];
  security?: Record<string, string[]>[];
  'x-google-backend': { address: string; jwt_audience: string; path_translation: string; deadline: number };
}
type Doc = { swagger: string; paths: Record<string, Record<string, Operation>>; securityDefinitions: Record<string, unknown> };

let dir: string;
let renderedPath: string;
let renderedWithBootPath: string;
let doc: Doc;
let docWithBoot: Doc;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'openapi-'));
  renderedPath = path.join(dir, 'openapi.yaml');
  renderedWithBootPath = path.join(dir, 'openapi-with-boot.yaml');
  const backends = Object.fromEntries(Object.keys(functionsJson.functions).map((fn) => [fn, fakeUrl(fn)]));
  writeFileSync(renderedPath, renderLikeTerraform(template, backends));
  writeFileSync(renderedWithBootPath, renderLikeTerraform(templateWithBoot, backends));
  doc = (await SwaggerParser.parse(renderedPath)) as unknown as Doc;
  docWithBoot = (await SwaggerParser.parse(renderedWithBootPath)) as unknown as Doc;
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const defaultRoutesDoc = () => doc;

describe('the generated OpenAPI document', () => {
  it('is valid OpenAPI 2.0 as rendered by Terraform (default and with boot)', async () => {
    await expect(SwaggerParser.validate(renderedPath)).resolves.toMatchObject({ swagger: '2.0' });
    await expect(SwaggerParser.validate(renderedWithBootPath)).resolves.toMatchObject({ swagger: '2.0' });
  });

  it('publishes no boot route by default; openapi-with-boot.yaml (boot_on_api_gateway) has them', () => {
    expect(optInAudiences).toEqual(['boot']);
    const bootRoutes = routes.filter((r) => r.audience === 'boot');
    expect(bootRoutes.length).toBeGreaterThan(0);
    for (const route of bootRoutes) {
      expect(doc.paths[route.path], route.path).toBeUndefined();
      for (const method of route.methods) expect(docWithBoot.paths[route.path]?.[method.toLowerCase()], route.path).toBeDefined();
    }
    expect(Object.keys(doc.paths).some((p) => p === '/boot.ipxe' || p.startsWith('/asset/'))).toBe(false);
  });

  it('is valid OpenAPI 2.0 as committed (the templates themselves)', async () => {
    for (const [name, text] of [['template.yaml', template], ['template-with-boot.yaml', templateWithBoot]] as const) {
      const raw = path.join(dir, name);
      writeFileSync(raw, text);
      await expect(SwaggerParser.validate(raw)).resolves.toMatchObject({ swagger: '2.0' });
    }
  });

  it('renders with templatefile(): only backend placeholders of existing functions', () => {
    expect(() => renderLikeTerraform(template, {})).toThrow(/no function/);
    expect(renderLikeTerraform('a $${b} %%{c}', {})).toBe('a ${b} %{c}');
    expect(() => renderLikeTerraform('${var.x}', {})).toThrow(/cannot render/);
  });

  it.each([
    ['default', () => doc, () => defaultRoutes],
    ['with boot', () => docWithBoot, () => routes],
  ] as const)('%s: has one operation per route and method, each with its function as backend', (_name, docOf, routesOf) => {
    const doc = docOf();
    let count = 0;
    for (const route of routesOf()) {
      for (const method of route.methods) {
        const op = doc.paths[route.path]?.[method.toLowerCase()];
        expect(op, `${method} ${route.path}`).toBeDefined();
        const backend = op?.['x-google-backend'];
        expect(backend?.address).toBe(fakeUrl(route.fn));
        expect(backend?.jwt_audience).toBe(fakeUrl(route.fn));
        expect(backend?.path_translation).toBe('APPEND_PATH_TO_ADDRESS');
        expect(backend?.deadline).toBe(functionsJson.functions[route.fn]?.timeout_seconds);
        count++;
      }
    }
    const total = Object.values(doc.paths).reduce((n, item) => n + Object.keys(item).length, 0);
    expect(total).toBe(count);
  });

  it('declares every path parameter', () => {
    for (const route of routes) {
      const doc = route.audience === 'boot' ? docWithBoot : defaultRoutesDoc();
      const names = [...route.path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
      for (const method of route.methods) {
        const params = doc.paths[route.path]?.[method.toLowerCase()]?.parameters ?? [];
        expect(params.map((p) => p.name).sort(), `${method} ${route.path}`).toEqual([...names].sort());
        for (const p of params) expect(p).toMatchObject({ in: 'path', required: true, type: 'string' });
      }
    }
  });

  it('asks for a Google ID token of the admin audience on admin and internal routes only', () => {
    const doc = docWithBoot;
    expect(doc.securityDefinitions).toEqual({
      google_id_token: {
        authorizationUrl: '',
        flow: 'implicit',
        type: 'oauth2',
        'x-google-issuer': 'https://accounts.google.com',
        'x-google-jwks_uri': 'https://www.googleapis.com/oauth2/v3/certs',
        'x-google-audiences': audience,
      },
    });
    expect(authenticatedAudiences).toEqual(expect.arrayContaining(['admin']));
    for (const route of routes) {
      for (const method of route.methods) {
        const security = doc.paths[route.path]?.[method.toLowerCase()]?.security;
        if (authenticatedAudiences.includes(route.audience)) expect(security, route.fn).toEqual([{ google_id_token: [] }]);
        else expect(security, route.fn).toBeUndefined();
      }
    }
  });
});
