import { z } from 'zod';
import { machineCreatedSchema, machineListSchema, machineSchema, machineSpecSchema } from '../domain/machine';
import { anyBootProfileSchema, archImagesSchema, bootProfileSchema, defaultProfileSchema } from '../domain/profile';
import { problemCatalog, type ProblemType } from '../http/problem';
import { routes, type HttpMethod, type Route } from '../routes';
import { audienceContract, contract, headerCatalog, problemHeaders, transportProblems, type BodyContract, type HeaderName, type HeaderRule, type OperationContract } from './contract';
import { anyProblemSchema, problemSchemaName, problemSchemas, problemTypes } from './problems';
import { sweepResultSchema, uploadFileSchema, uploadRequestBodySchema, uploadSessionSchema } from './schemas';

/**
 * The OpenAPI 3.1 document of the whole API, built from the route table (shared/routes.ts:
 * paths, methods, audiences, summaries) and the contract (./contract.ts: parameters, bodies,
 * responses, problems). Schemas come from zod (`z.toJSONSchema`, JSON Schema 2020-12, the
 * dialect of OpenAPI 3.1). Deterministic: `npm run generate` writes it to
 * terraform/openapi-v3.json and the freshness test compares.
 */

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

/** Schemas published under components/schemas by name; everything else is inlined. */
const outputSchemas: [z.ZodType, string][] = [
  [machineSchema, 'Machine'],
  [machineListSchema, 'MachineList'],
  [machineCreatedSchema, 'MachineCreated'],
  [bootProfileSchema, 'BootProfile'],
  [defaultProfileSchema, 'DefaultBootProfile'],
  [anyBootProfileSchema, 'AnyBootProfile'],
  [archImagesSchema, 'ArchImages'],
  [uploadSessionSchema, 'UploadSession'],
  [uploadFileSchema, 'UploadFile'],
  [sweepResultSchema, 'SweepResult'],
  [anyProblemSchema, 'Problem'],
  ...problemTypes.map((slug): [z.ZodType, string] => [problemSchemas[slug], problemSchemaName(slug)]),
];
const inputSchemas: [z.ZodType, string][] = [
  [machineSpecSchema, 'MachineSpec'],
  [uploadRequestBodySchema, 'UploadRequest'],
];

const jsonSchemaOptions = { target: 'draft-2020-12', unrepresentable: 'any' } as const;

function clean(schema: Record<string, unknown>): JsonObject {
  const { $schema: _s, $id: _i, ...rest } = schema;
  return rest as JsonObject;
}

function componentSchemas(): Record<string, JsonObject> {
  const out: Record<string, JsonObject> = {};
  for (const [list, io] of [[outputSchemas, 'output'], [inputSchemas, 'input']] as const) {
    const registry = z.registry<{ id: string }>();
    for (const [schema, id] of list) registry.add(schema, { id });
    const { schemas } = z.toJSONSchema(registry, { ...jsonSchemaOptions, io, uri: (id) => `#/components/schemas/${id}` });
    for (const [id, schema] of Object.entries(schemas)) out[id] = clean(schema as Record<string, unknown>);
  }
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => a.localeCompare(b)));
}

function schemaRef(schema: z.ZodType, io: 'input' | 'output'): JsonObject {
  const named = (io === 'output' ? outputSchemas : inputSchemas).find(([s]) => s === schema);
  if (named) return { $ref: `#/components/schemas/${named[1]}` };
  return clean(z.toJSONSchema(schema, { ...jsonSchemaOptions, io }) as Record<string, unknown>);
}

function headerObject(name: HeaderName, rule: HeaderRule): JsonObject {
  const { description, schema } = headerCatalog[name];
  return { description, required: rule === 'required', schema: { ...schema } as JsonObject };
}

function headersObject(rules: Partial<Record<HeaderName, HeaderRule>>): JsonObject {
  const out: JsonObject = {};
  for (const [name, rule] of Object.entries(rules) as [HeaderName, HeaderRule][]) out[name] = headerObject(name, rule);
  return out;
}

function bodyContent(body: BodyContract): JsonObject {
  if ('json' in body) return { 'application/json': { schema: schemaRef(body.json, 'output') } };
  if ('text' in body) return { 'text/plain': { schema: { type: 'string' } } };
  if ('texts' in body) return Object.fromEntries(body.texts.map((media) => [media, { schema: { type: 'string' } }]));
  return { 'application/octet-stream': {} };
}

/** Every problem type an operation can answer with: its own, its audience's, the front door's. */
export function problemsOf(route: Route, op: OperationContract): ProblemType[] {
  const all = new Set<ProblemType>([...op.problems, ...audienceContract[route.audience].problems, ...transportProblems]);
  return problemTypes.filter((t) => all.has(t));
}

/** Headers every answer of `route` carries, problems included. */
export function commonHeaders(route: Route): Partial<Record<HeaderName, HeaderRule>> {
  return { 'X-Request-Id': 'required', ...audienceContract[route.audience].headers };
}

/** Headers the problem answers of one status carry: required only when every type of that status requires it. */
export function problemStatusHeaders(op: OperationContract, types: readonly ProblemType[]): Partial<Record<HeaderName, HeaderRule>> {
  const perType = types.map((t) => ({ ...problemHeaders[t], ...op.problemHeaders?.[t] }));
  const out: Partial<Record<HeaderName, HeaderRule>> = { 'Cache-Control': 'required' };
  for (const rules of perType) {
    for (const [name, rule] of Object.entries(rules) as [HeaderName, HeaderRule][]) {
      const everywhere = perType.every((r) => r[name] === 'required');
      out[name] = rule === 'required' && everywhere ? 'required' : 'optional';
    }
  }
  return out;
}

function operationObject(route: Route, method: HttpMethod, op: OperationContract): JsonObject {
  const bodiless = method === 'HEAD';
  const common = commonHeaders(route);
  const responses: Record<string, JsonObject> = {};
  for (const [status, response] of Object.entries(op.responses)) {
    const r: JsonObject = { description: response.description, headers: headersObject({ ...common, ...response.headers }) };
    if (response.body && !bodiless) r.content = bodyContent(response.body);
    responses[status] = r;
  }
  const byStatus = new Map<number, ProblemType[]>();
  for (const t of problemsOf(route, op)) {
    const status = problemCatalog[t].status;
    byStatus.set(status, [...(byStatus.get(status) ?? []), t]);
  }
  for (const [status, types] of [...byStatus].sort(([a], [b]) => a - b)) {
    const refs = types.map((t) => ({ $ref: `#/components/schemas/${problemSchemaName(t)}` }));
    const content: JsonObject = { 'application/problem+json': { schema: refs.length === 1 ? (refs[0] as JsonObject) : { anyOf: refs } } };
    const headers = headersObject({ ...common, ...problemStatusHeaders(op, types) });
    const existing = responses[String(status)];
    const description = `Problem: ${types.join(', ')}`;
    if (existing) {
      existing.description = `${String(existing.description)}; or a ${description}`;
      existing.content = { ...(existing.content as JsonObject | undefined), ...(bodiless ? {} : content) };
    } else {
      responses[String(status)] = { description, headers, ...(bodiless ? {} : { content }) };
    }
  }
  const parameters: JsonObject[] = [];
  for (const [name, p] of Object.entries(op.pathParams ?? {})) parameters.push({ name, in: 'path', required: true, description: p.description, schema: schemaRef(p.schema, 'input') });
  for (const [name, p] of Object.entries(op.query ?? {})) parameters.push({ name, in: 'query', required: p.required ?? false, description: p.description, schema: schemaRef(p.schema, 'input') });

  const o: JsonObject = {
    operationId: route.methods.length > 1 ? `${route.fn}_${method.toLowerCase()}` : route.fn,
    summary: route.summary,
    tags: [route.audience],
  };
  if (op.description) o.description = op.description;
  if (parameters.length > 0) o.parameters = parameters;
  if (op.requestBody) {
    const rb = op.requestBody;
    o.requestBody =
      'json' in rb
        ? { required: rb.optional !== true, description: rb.description ?? 'JSON body', content: { [rb.mediaType ?? 'application/json']: { schema: schemaRef(rb.json, 'input') } } }
        : {
            required: true,
            description: rb.description ?? 'multipart/form-data',
            content: {
              'multipart/form-data': {
                schema: schemaRef(rb.multipart, 'input'),
                ...(rb.encoding ? { encoding: Object.fromEntries(Object.entries(rb.encoding).map(([field, contentType]) => [field, { contentType }])) } : {}),
              },
            },
          };
  }
  o.security = audienceContract[route.audience].security ? [{ bearerIdToken: [] }] : [];
  o.responses = responses;
  return o;
}

/** Routes whose function has no contract entry (a new route-table row without its entry in ./contract.ts). */
export function routesWithoutContract(): Route[] {
  return routes.filter((r) => !Object.hasOwn(contract, r.fn));
}

let cached: JsonObject | undefined;

/** The document (built once per process; it depends only on code). */
export function buildOpenApiDocument(): JsonObject {
  if (cached) return cached;
  const missing = routesWithoutContract();
  if (missing.length > 0) throw new Error(`shared/api/contract.ts has no entry for ${missing.map((r) => r.fn).join(', ')} (every route-table fn needs one)`);
  const paths: Record<string, JsonObject> = {};
  for (const route of routes) {
    const op = contract[route.fn as keyof typeof contract];
    const item = (paths[route.path] ??= {});
    for (const method of route.methods) item[method.toLowerCase()] = operationObject(route, method, op);
  }
  cached = {
    openapi: '3.1.0',
    jsonSchemaDialect: 'https://spec.openapis.org/oas/3.1/dialect/base',
    info: {
      title: 'netboot control plane',
      version: '1.0.0',
      description: [
        'Admin API (machines, boot profiles, upload sessions), the boot path (iPXE script, kernel and initrd), health probes and the blob sweep.',
        'Generated from shared/routes.ts and shared/api/contract.ts by shared/api/openapi.ts; do not edit.',
        'Every answer carries X-Request-Id; admin answers X-API-Version. Errors are RFC 9457 problem details (application/problem+json) whose `type` is a URI under PROBLEM_TYPE_BASE ending in the problem slug.',
        'Requests no route takes (unknown paths, methods) get 404 `not-found` / 405 `method-not-allowed` problems (schema Problem) from the front door.',
      ].join('\n\n'),
    },
    tags: [
      { name: 'admin', description: 'Administrators: a bearer ID token of an identity in ADMIN_PRINCIPALS' },
      { name: 'boot', description: 'Machines booting (iPXE): open, from the boot network only' },
      { name: 'health', description: 'Probes: open, bodiless' },
      { name: 'internal', description: 'Cloud Scheduler, through the front door with a Google ID token' },
    ],
    paths,
    components: {
      schemas: componentSchemas(),
      securitySchemes: {
        bearerIdToken: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'JWT',
          description: 'A Google ID token (production: gcloud auth print-identity-token --audiences=ADMIN_TOKEN_AUDIENCE), or locally `npm run --silent admin-token`',
        },
      },
    },
  };
  return cached;
}

/** The document as served and written to terraform/openapi-v3.json: two-space JSON and a final newline. */
export function openApiText(): string {
  return `${JSON.stringify(buildOpenApiDocument(), null, 2)}\n`;
}
