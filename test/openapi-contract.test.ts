import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { Validator } from '@seriousme/openapi-schema-validator';
import { describe, expect, it } from 'vitest';
import { contract } from '../shared/api/contract';
import { buildOpenApiDocument, routesWithoutContract } from '../shared/api/openapi';
import { problemSchemaName, problemTypes } from '../shared/api/problems';
import { problemCatalog } from '../shared/http/problem';
import { routes } from '../shared/routes';

type Doc = {
  openapi: string;
  paths: Record<string, Record<string, { operationId: string; parameters?: { name: string; in: string }[]; security?: unknown[]; responses: Record<string, unknown> }>>;
  components: { schemas: Record<string, unknown> };
};
const doc = buildOpenApiDocument() as unknown as Doc;

describe('the API contract (shared/api/contract.ts)', () => {
  it('has an entry for every function of the route table, and none for functions it does not have', () => {
    expect(routesWithoutContract().map((r) => `${r.fn} (${r.path}): add its entry to shared/api/contract.ts`)).toEqual([]);
    const fns = new Set<string>(routes.map((r) => r.fn));
    expect(Object.keys(contract).filter((fn) => !fns.has(fn))).toEqual([]);
  });

  it("declares exactly the path parameters of each route's path", () => {
    for (const route of routes) {
      const names = [...route.path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]).sort();
      expect(Object.keys(contract[route.fn].pathParams ?? {}).sort(), route.fn).toEqual(names);
    }
  });

  it('gives every operation at least one success answer', () => {
    for (const route of routes) expect(Object.keys(contract[route.fn].responses).some((s) => Number(s) < 400), route.fn).toBe(true);
  });
});

describe('the OpenAPI 3.1 document', () => {
  it('is valid OpenAPI 3.1 (@seriousme/openapi-schema-validator)', async () => {
    const result = await new Validator().validate(structuredClone(doc) as Record<string, unknown>);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(doc.openapi).toBe('3.1.0');
  });

  it('has one operation per route and method, with unique operation ids', () => {
    const ids: string[] = [];
    for (const route of routes) for (const method of route.methods) {
      const op = doc.paths[route.path]?.[method.toLowerCase()];
      expect(op, `${method} ${route.path}`).toBeDefined();
      ids.push(op?.operationId ?? '');
    }
    expect(new Set(ids).size).toBe(ids.length);
    expect(Object.values(doc.paths).reduce((n, item) => n + Object.keys(item).length, 0)).toBe(ids.length);
  });

  it('secures admin (and internal) operations with the bearer ID token; boot and health are open', () => {
    for (const route of routes) for (const method of route.methods) {
      const security = doc.paths[route.path]?.[method.toLowerCase()]?.security;
      expect(security, route.fn).toEqual(route.audience === 'admin' || route.audience === 'internal' ? [{ bearerIdToken: [] }] : []);
    }
  });

  it('has a schema for every problem type, with its status and title', () => {
    for (const slug of problemTypes) {
      const schema = doc.components.schemas[problemSchemaName(slug)] as { properties: Record<string, { const?: unknown }> };
      expect(schema.properties.status?.const, slug).toBe(problemCatalog[slug].status);
      expect(schema.properties.title?.const, slug).toBe(problemCatalog[slug].title);
    }
  });

  it('every schema in it compiles under JSON Schema 2020-12 (ajv strict)', () => {
    const ajv = new Ajv2020({ strict: true, strictTypes: false, allErrors: true });
    addFormats(ajv);
    const text = JSON.stringify(doc.components.schemas).replaceAll('#/components/schemas/', 'https://netboot.local/c.json#/$defs/');
    ajv.addSchema({ $id: 'https://netboot.local/c.json', $defs: JSON.parse(text) as Record<string, unknown> });
    for (const name of Object.keys(doc.components.schemas)) expect(() => ajv.getSchema(`https://netboot.local/c.json#/$defs/${name}`), name).not.toThrow();
  });
});
