import { userDataMaxBytes, userDataMediaTypes } from '../fleet/user-data';
import { z } from 'zod';
import { kernelArgsSchema } from '../domain/kernel-args';
import { machineListSchema, machineSchema, machineCreatedSchema, machineSpecSchema } from '../domain/machine';
import { anyBootProfileSchema, bootProfileSchema, defaultProfileSchema, extraArchitectures, fileNames } from '../domain/profile';
import type { ProblemType } from '../http/problem';
import type { Audience, FunctionName } from '../routes';
import { sweepResultSchema, uploadRequestBodySchema, uploadSessionSchema } from './schemas';
import { finalizeRequestSchema } from '../uploads/service';
import { ipxeFiles, ipxeListSchema, ipxeUploadRequestSchema, ipxeUploadSessionSchema } from '../ipxe/files';
import { bootListSchema, discoveryListSchema, installedSchema, machinePatchSchema } from '../lifecycle/schemas';

/**
 * THE API CONTRACT, one entry per function of the route table (shared/routes.ts).
 *
 * The route table stays the one list of routes (path, methods, audience, summary); this file
 * says, for each route-table `fn`, what its operation takes and answers. From both,
 * ./openapi.ts builds the OpenAPI 3.1 document (GET /openapi.json on the local gateway,
 * terraform/openapi-v3.json via `npm run generate`), and test/helpers/stack.ts's `request`
 * checks every response the HTTP tests receive against it (./check.ts).
 *
 * Adding a route: add its row to shared/routes.ts, then an entry here under the same `fn`
 * (`contract` is typed `Record<FunctionName, ...>`, so tsc and test/openapi-contract.test.ts
 * fail until it exists). An entry lists:
 * - `pathParams`: one per `{name}` in the route's path (the test checks they match);
 * - `query`: query parameters, if any;
 * - `requestBody`: `{ json: zodSchema }` or `{ multipart: zodSchema, encoding? }`;
 * - `responses`: the non-problem answers by status: a `body` (`{ json: zodSchema }`,
 *   `{ text: 'text/plain' }`, `{ binary: 'application/octet-stream' }`, or none) and
 *   `headers` (name -> 'required' | 'optional'; names from `headerCatalog` below);
 * - `problems`: the problem types the function itself answers with (problem+json). Their
 *   statuses come from shared/http/problem.ts's catalog, their bodies from ./problems.ts.
 *   Problems every route of an audience can give (auth, rate limits, the front door's
 *   refusals, 500) are added from `audienceProblems` / `transportProblems`: do not repeat them.
 * Response bodies are zod schemas (`z.toJSONSchema` turns them into JSON Schema 2020-12):
 * write them next to the domain types (shared/domain/*.ts) or in ./schemas.ts.
 */

/** Response headers the contract can name; each with its schema (header values are strings on the wire: `integer` means digits). */
export const headerCatalog = {
  'X-Request-Id': { description: 'The request id: the client\'s X-Request-Id when it is a safe token, else a new one; also `request_id` in problems', schema: { type: 'string', minLength: 1 } },
  'X-API-Version': { description: 'The admin API version', schema: { type: 'string', const: 'v1' } },
  'X-RateLimit-Limit': { description: 'Requests allowed in the window (or concurrent downloads) of the most constraining limit', schema: { type: 'integer', minimum: 0 } },
  'X-RateLimit-Remaining': { description: 'Requests (or download slots) left', schema: { type: 'integer', minimum: 0 } },
  'X-RateLimit-Reset': { description: 'Unix time (seconds) when the window ends', schema: { type: 'integer', minimum: 0 } },
  'Retry-After': { description: 'Seconds to wait before trying again', schema: { type: 'integer', minimum: 0 } },
  Location: { description: 'The created resource (admin), or the signed Cloud Storage URL (asset redirects)', schema: { type: 'string', minLength: 1 } },
  ETag: { description: 'Strong entity tag of the asset bytes', schema: { type: 'string', pattern: '^(W/)?".*"$' } },
  'Content-Range': { description: 'The range served (206), or `bytes */size` (416)', schema: { type: 'string', pattern: '^bytes (\\d+-\\d+|\\*)/\\d+$' } },
  'Cache-Control': { description: 'Caching directives', schema: { type: 'string', minLength: 1 } },
  'Accept-Ranges': { description: 'Range requests are supported', schema: { type: 'string', const: 'bytes' } },
  'WWW-Authenticate': { description: 'The bearer challenge (RFC 6750)', schema: { type: 'string', pattern: '^Bearer ' } },
  Allow: { description: 'The methods the path allows', schema: { type: 'string', minLength: 1 } },
} as const;

export type HeaderName = keyof typeof headerCatalog;
export type HeaderRule = 'required' | 'optional';

export type BodyContract =
  | { json: z.ZodType; description?: string }
  | { text: 'text/plain'; description?: string }
  /** A text body of one of these media types (e.g. cloud-init user-data: text/cloud-config, text/x-shellscript, multipart/mixed). */
  | { texts: readonly string[]; description?: string }
  | { binary: 'application/octet-stream'; description?: string };

export interface ResponseContract {
  description: string;
  /** Absent: no body (204, 304, HEAD answers, bodiless health answers). */
  body?: BodyContract;
  headers?: Partial<Record<HeaderName, HeaderRule>>;
}

export interface ParamContract {
  schema: z.ZodType;
  description: string;
  required?: boolean;
}

export type RequestBodyContract =
  | {
      json: z.ZodType;
      /** The body's media type when not application/json (e.g. application/merge-patch+json). */
      mediaType?: string;
      description?: string;
      /** The body may be left out (OpenAPI requestBody.required false). */
      optional?: true;
    }
  | {
      multipart: z.ZodType;
      /** Per form field: its Content-Type inside the form (OpenAPI `encoding`). */
      encoding?: Record<string, string>;
      description?: string;
    };

export interface OperationContract {
  description?: string;
  pathParams?: Record<string, ParamContract>;
  query?: Record<string, ParamContract>;
  requestBody?: RequestBodyContract;
  /** Non-problem answers, by status. */
  responses: Record<number, ResponseContract>;
  /** Problem types this function answers with itself (beyond its audience's and the front door's). */
  problems: readonly ProblemType[];
  /** Headers its problem answers carry, per problem type (beyond X-Request-Id and the audience's). */
  problemHeaders?: Partial<Record<ProblemType, Partial<Record<HeaderName, HeaderRule>>>>;
}

/** Problems that can answer any route, before or around its function: the front door and the framework. */
export const transportProblems: readonly ProblemType[] = [
  'validation-error', // a request the HTTP parser refuses, a body that ends early
  'invalid-json', // a JSON Content-Type with a body that is not JSON
  'request-timeout',
  'payload-too-large',
  'unsupported-media-type', // compressed or unsupported-charset bodies
  'expectation-failed',
  'request-header-fields-too-large',
  'internal-error',
];

/** Problems every route of an audience can give, and the headers its answers carry. */
export const audienceContract: Record<Audience, { problems: readonly ProblemType[]; headers: Partial<Record<HeaderName, HeaderRule>>; security: boolean }> = {
  // X-RateLimit-* on every answer once the limiter counted the request (not on 401/403, which come first;
  // not when the limiter fails open or a limit is 0: spec section "Rate Limiting" says "included in responses").
  admin: {
    problems: ['unauthorized', 'forbidden', 'rate-limit-exceeded', 'service-unavailable'],
    headers: { 'X-API-Version': 'required', 'X-RateLimit-Limit': 'optional', 'X-RateLimit-Remaining': 'optional', 'X-RateLimit-Reset': 'optional' },
    security: true,
  },
  boot: { problems: ['forbidden'], headers: {}, security: false },
  health: { problems: [], headers: {}, security: false },
  // Reached only through the front door with a Google ID token (API Gateway / IAM); the function itself checks nothing.
  internal: { problems: [], headers: {}, security: true },
  // The console's static files: public (the page signs in with Google; every API call it makes is an admin call).
  console: { problems: [], headers: {}, security: false },
};

/** Headers of problem answers, whatever the route (beyond X-Request-Id). */
export const problemHeaders: Partial<Record<ProblemType, Partial<Record<HeaderName, HeaderRule>>>> = {
  unauthorized: { 'WWW-Authenticate': 'required' },
  'rate-limit-exceeded': { 'Retry-After': 'required', 'X-RateLimit-Limit': 'required', 'X-RateLimit-Remaining': 'required', 'X-RateLimit-Reset': 'required' },
  'service-unavailable': { 'Retry-After': 'optional' },
  'method-not-allowed': { Allow: 'required' },
  'range-not-satisfiable': { 'Content-Range': 'required' },
};

const uuidV7Param = (name: string, what: string): ParamContract => ({
  schema: z.string().regex(/^[\da-fA-F]{8}-[\da-fA-F]{4}-7[\da-fA-F]{3}-[89abAB][\da-fA-F]{3}-[\da-fA-F]{12}$/),
  description: `${what} (a UUIDv7, any case; ${name})`,
  required: true,
});

const macParam = (description: string, required: boolean): ParamContract => ({
  schema: z.string().regex(/^[\da-fA-F]{2}([:-])[\da-fA-F]{2}(\1[\da-fA-F]{2}){4}$/),
  description,
  required,
});

/** X-RateLimit-* as the limiter sets them on answers it let through; absent when the store could not be asked (fail open) or the limit is 0. */
const rateLimitHeaders = { 'X-RateLimit-Limit': 'optional', 'X-RateLimit-Remaining': 'optional', 'X-RateLimit-Reset': 'optional' } as const;

/** arch, platform and base_url of the boot-script previews: what the booting client would send, and the host it chains from. */
const previewQuery: Record<string, ParamContract> = {
  arch: { schema: z.string().regex(/^[a-z0-9_]{1,16}$/), description: "iPXE's ${buildarch} the machine would send (i386, x86_64, arm64, ...)", required: false },
  platform: { schema: z.string().regex(/^[a-z0-9_]{1,16}$/), description: "iPXE's ${platform} (pcbios, efi)", required: false },
  base_url: { schema: z.string().regex(/^https?:\/\/[^/?#]+$/), description: '{{base_url}} as the machines see it (scheme and host of the boot front door); default: this request\'s own', required: false },
};

const machineBody: RequestBodyContract = { json: machineSpecSchema, description: 'The machine (unknown members are refused; missing lists are empty)' };

/** A JSON Schema without its `$schema` (embedded in the document, whose dialect applies). */
function withoutDialect(schema: Record<string, unknown>): Record<string, unknown> {
  const { $schema: _dialect, ...rest } = schema;
  return rest;
}

/** Form fields of POST /api/v1/profiles and PUT /api/v1/boot/{machine_id}/profile. */
const profileForm = (withMachineId: boolean): RequestBodyContract => ({
  multipart: z.strictObject({
    ...(withMachineId ? { machine_id: z.string().meta({ description: 'The machine (UUIDv7)' }) } : {}),
    kernel: z.string().meta({ contentMediaType: 'application/octet-stream', description: 'The kernel image (a file part): the default one, booted by i386 and x86_64 requests and by requests without arch' }),
    initrd: z.string().meta({ contentMediaType: 'application/octet-stream', description: 'The initrd image (a file part), the default one' }),
    // One pair per extra architecture (iPXE ${buildarch}); an architecture the form lacks gets the refusal script.
    ...Object.fromEntries(
      fileNames
        .filter((name) => name.includes('.'))
        .map((name) => [name, z.string().optional().meta({ contentMediaType: 'application/octet-stream', description: `The ${name.replace('.', ' image for ')} requests (a file part; with its pair: ${name.startsWith('kernel') ? name.replace('kernel', 'initrd') : name.replace('initrd', 'kernel')})` })]),
    ),
    kernel_args: z
      .string()
      .optional()
      .meta({ contentMediaType: 'application/json', contentSchema: withoutDialect(z.toJSONSchema(kernelArgsSchema, { target: 'draft-2020-12', io: 'input' })), description: 'A JSON array of kernel arguments; {{machine_id}}, {{mac}}, {{hostname}}, {{base_url}}, {{arch}}, {{platform}} are rendered per boot' }),
    user_data: z
      .string()
      .optional()
      .meta({ description: `cloud-init user-data (a text field or a file part): #cloud-config YAML, a #! script or a MIME multi-part archive; at most ${userDataMaxBytes} bytes` }),
    vendor_data: z
      .string()
      .optional()
      .meta({ description: `cloud-init vendor-data, validated like user_data (at most ${userDataMaxBytes} bytes); served at /metadata/{mac}/vendor-data` }),
  }),
  encoding: {
    kernel: 'application/octet-stream',
    initrd: 'application/octet-stream',
    ...Object.fromEntries(fileNames.filter((name) => name.includes('.')).map((name) => [name, 'application/octet-stream'])),
    kernel_args: 'application/json, text/plain',
    user_data: 'text/cloud-config, text/x-shellscript, multipart/mixed, text/plain, application/octet-stream',
    vendor_data: 'text/cloud-config, text/x-shellscript, multipart/mixed, text/plain, application/octet-stream',
  },
});

const profileProblems: readonly ProblemType[] = ['validation-error', 'unsupported-media-type', 'file-too-large', 'invalid-kernel-args', 'invalid-user-data', 'storage-error', 'payload-too-large'];

const assetOperation = (kind: 'kernel' | 'initrd'): OperationContract => ({
  description: `The ${kind} bytes: streamed (ASSET_DELIVERY=proxy; Range, If-None-Match) or a 302 to a short-lived signed Cloud Storage URL (redirect). HEAD answers the same without a body.`,
  pathParams: { boot_profile_id: uuidV7Param('boot_profile_id', 'The boot profile') },
  query: {
    v: { schema: z.string(), description: 'A versioned asset URL\'s blob id (UUIDv7): served while that version is current or retained', required: false },
    part: { schema: z.string().regex(/^(0|[1-9]\d{0,5})$/), description: 'Part index of a large initrd (proxy mode); only with v', required: false },
    boot: { schema: z.string(), description: 'The boot this download belongs to (machine id.boot id), set by the script: where the kernel / initrd phase is recorded', required: false },
  },
  responses: {
    200: { description: `The whole ${kind}`, body: { binary: 'application/octet-stream' }, headers: { ETag: 'required', 'Cache-Control': 'required', 'Accept-Ranges': 'required', ...rateLimitHeaders } },
    206: { description: 'One range of it', body: { binary: 'application/octet-stream' }, headers: { ETag: 'required', 'Content-Range': 'required', 'Cache-Control': 'required', 'Accept-Ranges': 'required', ...rateLimitHeaders } },
    302: { description: 'Redirect to a signed Cloud Storage URL (redirect mode, or an asset over the response cap)', headers: { Location: 'required', 'Cache-Control': 'required' } },
    304: { description: 'If-None-Match matched the ETag', headers: { ETag: 'required', 'Cache-Control': 'required' } },
  },
  problems: [`${kind}-not-found`, 'validation-error', 'range-not-satisfiable', 'rate-limit-exceeded', 'service-unavailable', 'storage-error'],
});

/** Every route-table function's operation. */
export const contract: Record<FunctionName, OperationContract> = {
  machinesCreate: {
    requestBody: machineBody,
    responses: { 201: { description: 'Registered', body: { json: machineCreatedSchema }, headers: { Location: 'required', ...rateLimitHeaders } } },
    problems: ['validation-error', 'unsupported-media-type', 'invalid-json', 'duplicate-mac-address'],
  },
  machinesList: {
    query: {
      page: { schema: z.string().regex(/^\d{1,6}$/), description: 'Page number, from 1 (default 1, at most 100000)' },
      per_page: { schema: z.string().regex(/^\d{1,6}$/), description: 'Machines per page, 1 to 100 (default 20)' },
      mac: macParam('Only the machine with this NIC MAC', false),
    },
    responses: { 200: { description: 'One page of machines', body: { json: machineListSchema }, headers: rateLimitHeaders } },
    problems: ['validation-error'],
  },
  machinesGet: {
    pathParams: { id: uuidV7Param('id', 'The machine') },
    responses: { 200: { description: 'The machine', body: { json: machineSchema }, headers: rateLimitHeaders } },
    problems: ['validation-error', 'machine-not-found'],
  },
  machinesUpdate: {
    pathParams: { id: uuidV7Param('id', 'The machine') },
    requestBody: machineBody,
    responses: { 200: { description: 'The machine as replaced', body: { json: machineSchema }, headers: rateLimitHeaders } },
    problems: ['validation-error', 'unsupported-media-type', 'invalid-json', 'machine-not-found', 'duplicate-mac-address'],
  },
  machinesDelete: {
    pathParams: { id: uuidV7Param('id', 'The machine') },
    responses: { 204: { description: 'Deleted', headers: rateLimitHeaders } },
    problems: ['validation-error', 'machine-not-found', 'machine-has-boot-profile'],
  },
  machinesPatch: {
    description: 'A JSON merge patch (RFC 7396) of the machine, sent as application/merge-patch+json (anything else: 415); e.g. {"netboot":"once"}. A patch that changes nics follows the MAC-claim rules (409).',
    pathParams: { id: uuidV7Param('id', 'The machine') },
    requestBody: { json: machinePatchSchema, mediaType: 'application/merge-patch+json', description: 'Content-Type: application/merge-patch+json. Members as in the machine; null removes one (its default applies).' },
    responses: { 200: { description: 'The machine as patched', body: { json: machineSchema }, headers: rateLimitHeaders } },
    problems: ['validation-error', 'unsupported-media-type', 'invalid-json', 'payload-too-large', 'machine-not-found', 'duplicate-mac-address'],
  },
  machinesBoots: {
    pathParams: { id: uuidV7Param('id', 'The machine') },
    responses: { 200: { description: 'The last boots, newest first, each with its phases in order', body: { json: bootListSchema }, headers: rateLimitHeaders } },
    problems: ['validation-error', 'machine-not-found'],
  },
  machinesBootScript: {
    description: 'Exactly what GET /boot.ipxe answers this machine now (same code), except that the per-boot token is a placeholder no boot matches (boot id 00000000-0000-7000-8000-000000000000). Records no boot, spends no boot rate limit.',
    pathParams: { id: uuidV7Param('id', 'The machine') },
    query: { ...previewQuery, mac: macParam('Which NIC boots (default: the machine\'s first)', false) },
    responses: { 200: { description: 'The iPXE script', body: { text: 'text/plain' }, headers: { 'Cache-Control': 'required', ...rateLimitHeaders } } },
    problems: ['validation-error', 'machine-not-found', 'machine-not-configured', 'internal-error'],
  },
  bootScriptPreview: {
    description: 'Exactly what GET /boot.ipxe answers this MAC now (same code), except that the per-boot token is a placeholder no boot matches. Records nothing (no boot record, no discovery for an unknown MAC), spends no boot rate limit.',
    query: { ...previewQuery, mac: macParam('The MAC (colon or hyphen form)', true) },
    responses: { 200: { description: 'The iPXE script', body: { text: 'text/plain' }, headers: { 'Cache-Control': 'required', ...rateLimitHeaders } } },
    problems: ['validation-error', 'invalid-mac-address', 'machine-not-configured', 'internal-error'],
  },
  discoveriesList: {
    query: {
      page: { schema: z.string().regex(/^\d{1,6}$/), description: 'Page number, from 1 (default 1, at most 100000)' },
      per_page: { schema: z.string().regex(/^\d{1,6}$/), description: 'Records per page, 1 to 100 (default 20)' },
      mac: macParam('Only the record of this MAC', false),
    },
    responses: { 200: { description: 'One page of unexpired discoveries, most recently seen first', body: { json: discoveryListSchema }, headers: rateLimitHeaders } },
    problems: ['validation-error'],
  },
  profilesCreate: {
    requestBody: profileForm(true),
    responses: { 201: { description: 'Created', body: { json: bootProfileSchema }, headers: { Location: 'required', ...rateLimitHeaders } } },
    problems: [...profileProblems, 'unknown-machine', 'boot-profile-exists'],
  },
  profilesGet: {
    pathParams: { machine_id: uuidV7Param('machine_id', 'The machine') },
    responses: { 200: { description: 'The boot profile', body: { json: bootProfileSchema }, headers: rateLimitHeaders } },
    problems: ['validation-error', 'boot-profile-not-found'],
  },
  profilesUpdate: {
    pathParams: { machine_id: uuidV7Param('machine_id', 'The machine') },
    requestBody: profileForm(false),
    responses: { 200: { description: 'The boot profile as replaced', body: { json: bootProfileSchema }, headers: rateLimitHeaders } },
    problems: [...profileProblems, 'boot-profile-not-found'],
  },
  profilesCloudInit: {
    description: "The profile's cloud-init user-data or vendor-data exactly as uploaded, typed by its format (the boot side serves it only under a boot's own metadata URL). machine_id `default`: the default profile's.",
    pathParams: {
      machine_id: { schema: z.string().regex(/^([\da-fA-F]{8}-[\da-fA-F]{4}-7[\da-fA-F]{3}-[89abAB][\da-fA-F]{3}-[\da-fA-F]{12}|default)$/), description: 'The machine (a UUIDv7), or default', required: true },
      document: { schema: z.enum(['user-data', 'vendor-data']), description: 'user-data or vendor-data', required: true },
    },
    responses: { 200: { description: 'The document as uploaded', body: { texts: Object.values(userDataMediaTypes) }, headers: { 'Cache-Control': 'required', ...rateLimitHeaders } } },
    problems: ['validation-error', 'boot-profile-not-found', 'not-found'],
  },
  profilesDelete: {
    pathParams: { machine_id: uuidV7Param('machine_id', 'The machine') },
    responses: { 204: { description: 'Deleted', headers: rateLimitHeaders } },
    problems: ['validation-error', 'boot-profile-not-found'],
  },
  defaultProfileGet: {
    responses: { 200: { description: 'The default boot profile (machine_id "default")', body: { json: defaultProfileSchema }, headers: rateLimitHeaders } },
    problems: ['boot-profile-not-found'],
  },
  defaultProfileSet: {
    description: 'The same form as PUT /api/v1/boot/{machine_id}/profile. Creates the default profile (201) or replaces it (200; the old version stays downloadable for PROFILE_VERSION_RETENTION_SECONDS). Unregistered MACs boot it from then on.',
    requestBody: profileForm(false),
    responses: {
      200: { description: 'The default profile as replaced', body: { json: defaultProfileSchema }, headers: rateLimitHeaders },
      201: { description: 'The default profile as created', body: { json: defaultProfileSchema }, headers: { Location: 'required', ...rateLimitHeaders } },
    },
    problems: [...profileProblems],
  },
  defaultProfileDelete: {
    responses: { 204: { description: 'Deleted: unregistered MACs get 404 machine-not-configured again', headers: rateLimitHeaders } },
    problems: ['boot-profile-not-found'],
  },
  metadataUserData: {
    description: "User-data by MAC (anyone on the boot network can name one): always empty; the profile's user-data is served only under the boot's own {{metadata_url}} (GET /nocloud/{key}/user-data).",
    pathParams: { mac: macParam('The MAC (colon or hyphen form)', true) },
    responses: { 200: { description: 'Empty text/plain', body: { text: 'text/plain' }, headers: { 'Cache-Control': 'required', ...rateLimitHeaders } } },
    problems: ['invalid-mac-address', 'machine-not-configured', 'rate-limit-exceeded', 'service-unavailable'],
  },
  metadataMetaData: {
    description: 'NoCloud meta-data: instance-id (the machine id) and local-hostname (its hostname, or its id).',
    pathParams: { mac: macParam('The MAC (colon or hyphen form)', true) },
    responses: { 200: { description: 'YAML: instance-id and local-hostname', body: { text: 'text/plain' }, headers: { 'Cache-Control': 'required', ...rateLimitHeaders } } },
    problems: ['invalid-mac-address', 'machine-not-configured', 'rate-limit-exceeded', 'service-unavailable'],
  },
  metadataVendorData: {
    description: "NoCloud vendor-data by MAC: always empty (cloud-init reads it as nothing to do); the profile's vendor_data is served only under the boot's own {{metadata_url}}.",
    pathParams: { mac: macParam('The MAC (colon or hyphen form)', true) },
    responses: { 200: { description: 'Empty text/plain', body: { text: 'text/plain' }, headers: { 'Cache-Control': 'required', ...rateLimitHeaders } } },
    problems: ['invalid-mac-address', 'machine-not-configured', 'rate-limit-exceeded', 'service-unavailable'],
  },
  nocloudSeed: {
    description:
      "A boot's own NoCloud seed, the URL `{{metadata_url}}` renders (ds=nocloud;s={{metadata_url}}). Answered only to the client address that fetched that boot's script, within BOOT_METADATA_WINDOW_SECONDS of it, and not after the boot reported installed; every fetch is counted in the boot's timeline. Any refusal is the same 404 boot-not-found.",
    pathParams: {
      key: { schema: z.string(), description: "The boot's metadata key (machine id.boot id.secret), as the script's {{metadata_url}} carries it" },
      file: { schema: z.enum(['meta-data', 'user-data', 'vendor-data']), description: 'The NoCloud file' },
    },
    responses: { 200: { description: 'meta-data (YAML), or the profile\'s user-data / vendor-data typed by its format (vendor-data: empty text/plain when it has none)', body: { texts: ['text/plain', ...Object.values(userDataMediaTypes)] }, headers: { 'Cache-Control': 'required', ...rateLimitHeaders } } },
    problems: ['not-found', 'boot-not-found', 'machine-not-configured', 'user-data-not-found', 'rate-limit-exceeded', 'service-unavailable'],
  },
  uploadsCreate: {
    requestBody: { json: uploadRequestBodySchema, description: 'What to upload: size and SHA-256 of kernel and initrd, and of each architecture\'s pair (kernel.arm64 / initrd.arm64, ...); machine_id "default" for the default profile' },
    responses: { 201: { description: 'The session, with a resumable upload URL per file still needed', body: { json: uploadSessionSchema }, headers: { Location: 'required', 'Cache-Control': 'required', ...rateLimitHeaders } } },
    problems: ['validation-error', 'unsupported-media-type', 'invalid-json', 'unknown-machine', 'boot-profile-exists', 'boot-profile-not-found', 'file-too-large', 'invalid-kernel-args', 'invalid-user-data', 'storage-error'],
  },
  uploadsGet: {
    pathParams: { id: uuidV7Param('id', 'The upload session') },
    responses: { 200: { description: 'The session', body: { json: uploadSessionSchema }, headers: { 'Cache-Control': 'required', ...rateLimitHeaders } } },
    problems: ['validation-error', 'upload-session-not-found'],
  },
  uploadsFinalize: {
    pathParams: { id: uuidV7Param('id', 'The upload session') },
    requestBody: { json: finalizeRequestSchema, optional: true, description: 'Optional: the SHA-256 of files sent in parts (transfer parts) that the session did not declare at open; declared, they are compared with what the service hashed' },
    responses: {
      200: { description: 'The profile replaced (mode replace), or the answer of an earlier finalize', body: { json: anyBootProfileSchema }, headers: rateLimitHeaders },
      201: { description: 'The profile created (mode create)', body: { json: anyBootProfileSchema }, headers: { Location: 'required', ...rateLimitHeaders } },
    },
    problems: [
      'validation-error',
      'upload-session-not-found',
      'upload-session-cancelled',
      'upload-session-expired',
      'upload-incomplete',
      'checksum-mismatch',
      'blob-unavailable',
      'boot-profile-exists',
      'boot-profile-not-found',
      'unknown-machine',
      'storage-error',
    ],
  },
  uploadsCancel: {
    pathParams: { id: uuidV7Param('id', 'The upload session') },
    responses: { 204: { description: 'Cancelled', headers: rateLimitHeaders } },
    problems: ['validation-error', 'upload-session-not-found', 'upload-session-finalized'],
  },
  uploadsVerify: {
    pathParams: { id: uuidV7Param('id', 'The upload session') },
    description:
      'For files sent in parts (transfer parts): hashes, in order, the parts whose upload has completed since the last call, so that finalize has nothing left to hash. Call it after each part, or once with `wait` to follow the upload: the call goes on hashing parts as they land until every part is hashed or `wait` seconds have passed. Calls that overlap are safe (they take turns).',
    query: { wait: { schema: z.string().regex(/^\d{1,3}$/), description: 'Seconds to go on hashing parts as they land, 0 to 120 (default 0: what has landed, then answer)', required: false } },
    responses: { 200: { description: 'The session; verified_bytes per parts file', body: { json: uploadSessionSchema }, headers: { 'Cache-Control': 'required', ...rateLimitHeaders } } },
    problems: ['validation-error', 'upload-session-not-found', 'upload-session-finalized', 'upload-session-cancelled', 'upload-session-expired', 'storage-error'],
  },
  ipxeList: {
    responses: { 200: { description: 'The published binaries (at most one per file name)', body: { json: ipxeListSchema }, headers: rateLimitHeaders } },
    problems: [],
  },
  ipxeUploadsCreate: {
    requestBody: { json: ipxeUploadRequestSchema, description: `Size and SHA-256 of each binary to publish (any of ${ipxeFiles.join(', ')}), as manifest.json of netboot ipxe build lists them` },
    responses: { 201: { description: 'The session, with a resumable upload URL per binary the service does not hold yet', body: { json: ipxeUploadSessionSchema }, headers: { 'Cache-Control': 'required', ...rateLimitHeaders } } },
    problems: ['validation-error', 'unsupported-media-type', 'invalid-json', 'storage-error'],
  },
  ipxeUploadsFinalize: {
    pathParams: { id: uuidV7Param('id', 'The iPXE upload session') },
    responses: { 200: { description: 'Every binary verified and published (or the answer of an earlier finalize)', body: { json: ipxeListSchema }, headers: rateLimitHeaders } },
    problems: ['validation-error', 'upload-session-not-found', 'upload-session-cancelled', 'upload-session-expired', 'ipxe-upload-incomplete', 'ipxe-checksum-mismatch', 'storage-error'],
  },
  bootScript: {
    query: {
      mac: macParam("The booting NIC's MAC (iPXE's ${net0/mac}; colon or hyphen form)", true),
      arch: { schema: z.string().regex(/^[a-z0-9_]{1,16}$/), description: `iPXE's \${buildarch}: recorded (discovery, boot record), rendered as {{arch}}; i386 and x86_64 (and no arch) boot the profile's kernel and initrd, ${extraArchitectures.join(', ')} the profile's images for that architecture; an architecture the profile has no images for gets a script that says so and reboots`, required: false },
      platform: { schema: z.string().regex(/^[a-z0-9_]{1,16}$/), description: "iPXE's ${platform} (pcbios, efi)", required: false },
    },
    responses: { 200: { description: 'The iPXE script', body: { text: 'text/plain' }, headers: { 'Cache-Control': 'required', ...rateLimitHeaders } } },
    problems: ['invalid-mac-address', 'machine-not-configured', 'validation-error', 'rate-limit-exceeded', 'service-unavailable'],
  },
  bootReport: {
    description: "The boot script fetches this right before `boot` (imgfetch); a failure never blocks the boot. A netboot-once machine becomes disabled.",
    query: {
      token: { schema: z.string(), description: 'The boot token of the script (machine id.boot id.secret)', required: true },
      phase: { schema: z.literal('booting'), description: 'booting', required: true },
    },
    responses: { 200: { description: 'Recorded (a tiny text body iPXE accepts as an image)', body: { text: 'text/plain' }, headers: { 'Cache-Control': 'required', ...rateLimitHeaders } } },
    problems: ['validation-error', 'boot-not-found', 'boot-phase-recorded', 'rate-limit-exceeded', 'service-unavailable'],
  },
  bootInstalled: {
    description: 'The installed OS reports that installation finished, with the token of its kernel line (netboot.token=...). A netboot-once machine becomes disabled.',
    query: { token: { schema: z.string(), description: 'The boot token from /proc/cmdline (netboot.token=...)', required: true } },
    responses: { 200: { description: 'Recorded', body: { json: installedSchema }, headers: rateLimitHeaders } },
    problems: ['validation-error', 'boot-not-found', 'boot-phase-recorded', 'rate-limit-exceeded', 'service-unavailable'],
  },
  assetKernel: assetOperation('kernel'),
  assetInitrd: assetOperation('initrd'),
  ipxeBinary: {
    description: 'A published iPXE binary, streamed. UEFI HTTP Boot firmware fetches it (the DHCP answer of netboot ipxe dhcp names this URL). HEAD answers the same without a body.',
    pathParams: { file: { schema: z.string(), description: `The binary: ${ipxeFiles.join(', ')} (any other name: ipxe-binary-not-found)`, required: true } },
    responses: {
      200: { description: 'The binary', body: { binary: 'application/octet-stream' }, headers: { ETag: 'required', 'Cache-Control': 'required', ...rateLimitHeaders } },
      304: { description: 'If-None-Match matched the ETag (the SHA-256)', headers: { ETag: 'required', 'Cache-Control': 'required' } },
    },
    problems: ['ipxe-binary-not-found', 'rate-limit-exceeded', 'service-unavailable', 'storage-error'],
  },
  healthStartup: {
    responses: {
      200: { description: 'Firestore and the blob bucket answer', headers: { 'Cache-Control': 'required' } },
      503: { description: 'A dependency does not answer (no body)', headers: { 'Cache-Control': 'required' } },
    },
    problems: [],
  },
  consoleAssets: {
    description: 'The fleet console (docs/console.md): index.html (Cache-Control no-cache) or a content-hashed .js / .css file (immutable for a year), each with the console\'s Content-Security-Policy and X-Frame-Options DENY. HEAD answers the same without a body.',
    pathParams: { file: { schema: z.string().regex(/^(index\.html|[a-z]+-[A-Z0-9]{8}\.(js|css))$/), description: 'index.html or a hashed file it names', required: true } },
    responses: { 200: { description: 'The file', body: { texts: ['text/html', 'text/javascript', 'text/css'] }, headers: { 'Cache-Control': 'required' } } },
    problems: ['not-found'],
  },
  healthLiveness: {
    responses: {
      200: { description: 'The process answers', headers: { 'Cache-Control': 'required' } },
      503: { description: 'The liveness check itself failed (no body)', headers: { 'Cache-Control': 'required' } },
    },
    problems: [],
  },
  blobsSweep: {
    responses: { 200: { description: 'What the sweep did', body: { json: sweepResultSchema }, headers: { 'Cache-Control': 'required' } } },
    problems: ['storage-error'],
  },
};
