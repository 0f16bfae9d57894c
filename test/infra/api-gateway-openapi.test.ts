/**
 * terraform/openapi.yaml and openapi-with-boot.yaml against API Gateway's documented limits
 * (scripts/api-gateway/check-openapi.ts): the generated documents pass; a document mutated
 * past each limit is refused by the rule that cites it.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { checkGatewayDocument, checkGatewayFiles, formatGatewayFinding, renderTemplate, rules, type Rule } from '../../scripts/api-gateway/check-openapi';
import { terraformDir } from './terraform-files';

type Doc = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- a YAML document mutated freely below
const rendered = (): Doc => parse(renderTemplate(readFileSync(path.join(terraformDir, 'openapi-with-boot.yaml'), 'utf8'))) as Doc;
const firstOp = (doc: Doc, template = '/api/v1/machines/{id}', method = 'get'): Doc => doc.paths[template][method] as Doc;

describe('the API Gateway documents', () => {
  it('the generated documents meet every rule', async () => {
    const results = await checkGatewayFiles(terraformDir);
    expect(results.map((r) => r.file)).toEqual(['openapi.yaml', 'openapi-with-boot.yaml']);
    expect(results.flatMap(({ file, findings }) => findings.map((f) => formatGatewayFinding(file, f)))).toEqual([]);
  });

  it('every rule names its source', () => {
    for (const rule of Object.values(rules)) expect(rule.source).toMatch(/^(cloud\.google\.com|github\.com)\//);
  });

  const cases: { name: string; rule: Rule; at?: string; mutate: (doc: Doc) => void; raw?: (text: string) => string }[] = [
    { name: 'a duplicate operationId', rule: 'operationId', mutate: (d) => (firstOp(d).operationId = firstOp(d, '/api/v1/machines', 'post').operationId) },
    { name: 'a missing operationId', rule: 'operationId', at: '/paths//api/v1/machines/{id}/get', mutate: (d) => delete firstOp(d).operationId },
    {
      name: 'a path parameter that is part of a segment',
      rule: 'pathSegments',
      mutate: (d) => {
        d.paths['/api/v1/machines/m-{id}'] = d.paths['/api/v1/machines/{id}'];
        delete d.paths['/api/v1/machines/{id}'];
      },
    },
    { name: 'a path variable without its parameter', rule: 'pathParameters', mutate: (d) => (firstOp(d).parameters = []) },
    { name: 'an external $ref', rule: 'externalRef', mutate: (d) => (d.definitions = { Machine: { $ref: 'https://example.com/schemas/machine.json' } }) },
    { name: 'a port in host', rule: 'hostPort', mutate: (d) => (d.host = 'api.example.com:8443') },
    {
      name: 'more than 200 YAML aliases',
      rule: 'yamlAliases',
      mutate: () => undefined,
      raw: (text) => `${text}x-aliases:\n  base: &b {a: 1}\n  uses:\n${Array.from({ length: 201 }, () => '    - *b').join('\n')}\n`,
    },
    {
      name: 'two OAuth2 schemes required together',
      rule: 'security',
      mutate: (d) => {
        d.securityDefinitions.other = { ...d.securityDefinitions.google_id_token };
        firstOp(d).security = [{ google_id_token: [], other: [] }];
      },
    },
    { name: 'an empty requirement making OAuth optional', rule: 'security', mutate: (d) => (firstOp(d).security = [{ google_id_token: [] }, {}]) },
    { name: 'a security requirement without a definition', rule: 'security', mutate: (d) => (firstOp(d).security = [{ api_key: [] }]) },
    { name: 'an x-google extension API Gateway does not accept', rule: 'extensions', mutate: (d) => (d['x-google-cors'] = true) },
    { name: 'an x-google extension in the wrong place', rule: 'extensions', mutate: (d) => (firstOp(d)['x-google-issuer'] = 'https://accounts.google.com') },
    { name: 'an unknown x-google-backend field', rule: 'backend', mutate: (d) => (firstOp(d)['x-google-backend'].timeout = 60) },
    { name: 'a path_translation API Gateway does not know', rule: 'backend', mutate: (d) => (firstOp(d)['x-google-backend'].path_translation = 'APPEND_PATH') },
    { name: 'a deadline over an hour', rule: 'backend', mutate: (d) => (firstOp(d)['x-google-backend'].deadline = 4000) },
    { name: 'jwt_audience with disable_auth', rule: 'backend', mutate: (d) => (firstOp(d)['x-google-backend'].disable_auth = true) },
    { name: 'a document that is not Swagger 2.0', rule: 'swagger2', mutate: (d) => (d.swagger = '3.0') },
    { name: 'an operation without responses (the Swagger 2.0 schema)', rule: 'swagger2', mutate: (d) => delete firstOp(d).responses },
  ];

  it.each(cases)('refuses $name ($rule)', async ({ rule, at, mutate, raw }) => {
    const doc = rendered();
    mutate(doc);
    const text = stringify(doc);
    // The Swagger schema (slow) only where it is the rule under test.
    const findings = await checkGatewayDocument(raw ? raw(text) : text, { schema: rule === 'swagger2' });
    expect(findings.map((f) => f.rule)).toContain(rule);
    if (at) expect(findings.find((f) => f.rule === rule)?.at).toBe(at);
  });
});
