import Ajv2020, { type ErrorObject, type ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { resolveRoute } from '../routes';
import { buildOpenApiDocument } from './openapi';
import { problemSchemaName, problemSlugOf } from './problems';

/**
 * Checks one HTTP response against the OpenAPI 3.1 document (./openapi.ts), for the tests
 * (test/helpers/stack.ts's `request` runs it on every response; ajv is a dev dependency, so
 * nothing in production imports this file). The route is found by template in the route
 * table; answers to requests no route takes are checked against the shared Problem schema.
 * Returns what is wrong (empty: the response keeps the contract).
 */

export interface ObservedResponse {
  method: string;
  /** Path and query as requested. */
  url: string;
  status: number;
  headers: Headers;
  text: string;
}

const docId = 'https://netboot.local/openapi.json';

type JsonObject = Record<string, unknown>;

let ajv: Ajv2020 | undefined;
const compiled = new Map<string, ValidateFunction>();

function validatorFor(pointer: string): ValidateFunction {
  if (!ajv) {
    ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: true });
    addFormats(ajv);
    ajv.addSchema({ $id: docId, ...buildOpenApiDocument() });
  }
  let fn = compiled.get(pointer);
  if (!fn) compiled.set(pointer, (fn = ajv.compile({ $ref: `${docId}#${pointer}` })));
  return fn;
}

function escapePointer(segment: string): string {
  return segment.replace(/~/g, '~0').replace(/\//g, '~1');
}

function errorsText(errors: ErrorObject[] | null | undefined): string {
  return (errors ?? [])
    .slice(0, 8)
    .map((e) => `${e.instancePath || '(body)'} ${e.message ?? ''}${e.params && Object.keys(e.params).length > 0 ? ` ${JSON.stringify(e.params)}` : ''}`)
    .join('; ');
}

function mediaTypeOf(headers: Headers): string | undefined {
  return headers.get('content-type')?.split(';')[0]?.trim().toLowerCase();
}

function checkHeaderValue(name: string, value: string, schema: JsonObject | undefined): string | undefined {
  if (!schema) return undefined;
  if (schema.type === 'integer') return /^\d+$/.test(value) ? undefined : `header ${name}: ${JSON.stringify(value)} is not an integer`;
  if (typeof schema.const === 'string' && value !== schema.const) return `header ${name}: ${JSON.stringify(value)} is not ${JSON.stringify(schema.const)}`;
  if (typeof schema.pattern === 'string' && !new RegExp(schema.pattern, 'u').test(value)) return `header ${name}: ${JSON.stringify(value)} does not match ${schema.pattern}`;
  return undefined;
}

function parseBody(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}

/** Problems found in `res`, each a line; empty when it keeps the contract. */
export function contractViolations(res: ObservedResponse): string[] {
  const doc = buildOpenApiDocument() as { paths: Record<string, Record<string, { responses: Record<string, JsonObject> }>> };
  const path = res.url.split('?')[0] as string;
  const match = resolveRoute(res.method, path);
  const errors: string[] = [];
  const media = mediaTypeOf(res.headers);
  const bodiless = res.method === 'HEAD' || res.text === '';

  if (match.kind !== 'found') {
    // Not a route's answer: the front door's problem for an unknown path or method.
    if (!res.headers.get('x-request-id')) errors.push('header X-Request-Id is missing');
    if (res.status < 400) return [`${res.status} answered a request no route takes (expected a problem)`, ...errors];
    if (bodiless) return errors;
    if (media !== 'application/problem+json') return [`content type ${String(media)} where application/problem+json was expected`, ...errors];
    const body = parseBody(res.text);
    if (!body.ok) return ['the problem body is not JSON', ...errors];
    const slug = problemSlugOf((body.value as JsonObject | null)?.type);
    const validate = validatorFor(`/components/schemas/${slug ? problemSchemaName(slug) : 'Problem'}`);
    if (!validate(body.value)) errors.push(`problem body (${slug ?? 'unknown type'}): ${errorsText(validate.errors)}`);
    return errors;
  }

  const { route } = match;
  const opPointer = `/paths/${escapePointer(route.path)}/${res.method.toLowerCase()}`;
  const operation = doc.paths[route.path]?.[res.method.toLowerCase()];
  if (!operation) return [`no operation ${res.method} ${route.path} in the document`];
  const response = operation.responses[String(res.status)];
  if (!response) return [`status ${res.status} is not declared (declared: ${Object.keys(operation.responses).join(', ')})`];

  const headers = (response.headers ?? {}) as Record<string, { required?: boolean; schema?: JsonObject }>;
  for (const [name, header] of Object.entries(headers)) {
    const value = res.headers.get(name);
    if (value === null) {
      if (header.required) errors.push(`required header ${name} is missing`);
      continue;
    }
    const wrong = checkHeaderValue(name, value, header.schema);
    if (wrong) errors.push(wrong);
  }

  const content = response.content as Record<string, { schema?: JsonObject }> | undefined;
  if (bodiless) return errors;
  if (!content) return [...errors, `a ${res.text.length}-character body where none is declared`];
  if (!media || !Object.hasOwn(content, media)) return [...errors, `content type ${String(media)} is not declared (declared: ${Object.keys(content).join(', ')})`];
  if (media !== 'application/json' && media !== 'application/problem+json') return errors;

  const body = parseBody(res.text);
  if (!body.ok) return [...errors, `the ${media} body is not JSON`];
  const pointer = `${opPointer}/responses/${res.status}/content/${escapePointer(media)}/schema`;
  if (media === 'application/problem+json') {
    // Checked against the one schema of its type, for errors that say what is wrong.
    const slug = problemSlugOf((body.value as JsonObject | null)?.type);
    const declared = JSON.stringify(content[media]?.schema ?? {});
    if (!slug || !declared.includes(`"#/components/schemas/${problemSchemaName(slug)}"`)) {
      return [...errors, `problem type ${JSON.stringify((body.value as JsonObject | null)?.type)} is not declared for ${res.status} (declared: ${declared.match(/Problem[A-Za-z]+/g)?.join(', ') ?? 'none'})`];
    }
    const validate = validatorFor(`/components/schemas/${problemSchemaName(slug)}`);
    if (!validate(body.value)) errors.push(`problem body (${slug}): ${errorsText(validate.errors)}`);
    return errors;
  }
  const validate = validatorFor(pointer);
  if (!validate(body.value)) errors.push(`body: ${errorsText(validate.errors)}`);
  return errors;
}

/** Throws an error naming the request, the route and every violation, when there is one. */
export function assertKeepsContract(res: ObservedResponse): void {
  const violations = contractViolations(res);
  if (violations.length === 0) return;
  const match = resolveRoute(res.method, res.url.split('?')[0] as string);
  const where = match.kind === 'found' ? `route ${match.route.fn} (${match.route.path})` : `no route (${match.kind})`;
  throw new Error(
    `OpenAPI contract violated by ${res.method} ${res.url.slice(0, 200)} -> ${res.status}, ${where}:\n  - ${violations.join('\n  - ')}\n  body: ${res.text.slice(0, 500)}\n  (shared/api/contract.ts; the document: GET /openapi.json)`,
  );
}
