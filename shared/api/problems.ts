import { z } from 'zod';
import { fileNames } from '../domain/profile';
import { ipxeFiles } from '../ipxe/files';
import { problemCatalog, type ProblemType } from '../http/problem';

/**
 * The body of every problem type (RFC 9457 / 7807 `application/problem+json`) as a zod
 * schema: the standard members, `request_id`, and the extension members the service puts in
 * that type (shared/http/problem.ts's catalog gives status and title). `type` is a URI under
 * PROBLEM_TYPE_BASE (a setting), so the schema pins only its last segment.
 */

const uuidV7 = z.string().regex(/^[\da-fA-F]{8}-[\da-fA-F]{4}-7[\da-fA-F]{3}-[89abAB][\da-fA-F]{3}-[\da-fA-F]{12}$/);
const invalidField = z.strictObject({ field: z.string(), reason: z.string() });
const fileProgress = z.strictObject({ size: z.number().int(), bytes_received: z.number().int().min(0).nullable(), complete: z.boolean() });
const digest = z.strictObject({ size: z.number().int().min(0), sha256: z.string() });
/** What Storage holds: size, and SHA-256 unless the size already differed (nothing is hashed then). */
const storedDigest = z.strictObject({ size: z.number().int().min(0), sha256: z.string().optional().meta({ description: 'Absent when the stored size differs from the declared one: the bytes were not hashed' }) });
/** A file of a profile upload: kernel, initrd, or an architecture's (kernel.arm64, initrd.arm64, ...). */
const fileField = z.enum(fileNames as [string, ...string[]]);
/** An iPXE binary's name (shared/ipxe/files.ts). */
const ipxeFile = z.enum(ipxeFiles);

/** Members every problem has: what shared/http/problem.ts's `problemBody` writes. */
function base(slug: ProblemType) {
  const { status, title } = problemCatalog[slug];
  return {
    type: z.string().regex(new RegExp(`/${slug}$`)).meta({ description: `A URI under PROBLEM_TYPE_BASE ending in \`${slug}\`` }),
    title: z.literal(title),
    status: z.literal(status),
    detail: z.string(),
    instance: z.string().meta({ description: 'The request path and query as the client sent them' }),
    request_id: z.string().meta({ description: 'Same as the X-Request-Id response header' }),
  };
}

/** Extension members of each type; `optional()` where only some answers carry them. */
const extensions: { [T in ProblemType]: z.ZodRawShape } = {
  'validation-error': { invalid_fields: z.array(invalidField) },
  'invalid-json': {},
  'invalid-mac-address': { mac_address: z.string().optional() },
  unauthorized: {},
  forbidden: { principal: z.string().optional(), client_address: z.string().optional() },
  'not-found': {},
  'machine-not-found': { machine_id: z.string() },
  'machine-not-configured': { mac_address: z.string() },
  'user-data-not-found': { mac_address: z.string() },
  'boot-profile-not-found': { machine_id: z.string() },
  'kernel-not-found': { boot_profile_id: z.string() },
  'boot-not-found': {},
  'boot-phase-recorded': { phase: z.string() },
  'initrd-not-found': { boot_profile_id: z.string() },
  'ipxe-binary-not-found': { file: z.string() },
  'method-not-allowed': {},
  'request-timeout': {},
  'duplicate-mac-address': { mac_address: z.string(), existing_machine_id: uuidV7.optional().meta({ description: 'Absent when the MAC is repeated inside the request itself' }) },
  'boot-profile-exists': { machine_id: z.string(), existing_profile_id: z.string() },
  'machine-has-boot-profile': { machine_id: z.string(), boot_profile_id: z.string() },
  'upload-session-not-found': { upload_id: z.string() },
  'upload-session-cancelled': { upload_id: z.string() },
  'upload-session-finalized': { upload_id: z.string(), boot_profile_id: z.string() },
  'upload-incomplete': {
    upload_id: z.string(),
    files: z.strictObject({ kernel: fileProgress, initrd: fileProgress }).catchall(fileProgress).meta({ description: 'Per file of the session: kernel, initrd and any kernel.<arch> / initrd.<arch>' }),
  },
  'ipxe-upload-incomplete': { upload_id: z.string(), missing: z.array(ipxeFile) },
  'blob-unavailable': { field: fileField, blob_id: z.string() },
  'upload-session-expired': { upload_id: z.string(), expires_at: z.string().meta({ format: 'date-time' }) },
  'payload-too-large': { max_size: z.number().int().optional().meta({ description: 'MAX_REQUEST_BYTES; absent when the framework or the chunk parser refused the body' }) },
  'unsupported-media-type': {},
  'range-not-satisfiable': {},
  'expectation-failed': {},
  'file-too-large': { field: fileField, file_size: z.number().int(), max_size: z.number().int() },
  'unknown-machine': { field: z.literal('machine_id'), machine_id: z.string() },
  'invalid-kernel-args': { field: z.literal('kernel_args'), invalid_fields: z.array(invalidField).optional() },
  'invalid-user-data': { field: z.enum(['user_data', 'vendor_data']) },
  'checksum-mismatch': {
    upload_id: z.string(),
    field: fileField,
    declared: digest,
    actual: storedDigest,
    mismatches: z.array(z.strictObject({ field: fileField, declared: digest, actual: storedDigest })),
  },
  'ipxe-checksum-mismatch': { upload_id: z.string(), mismatches: z.array(z.strictObject({ file: ipxeFile, declared: digest, actual: digest })) },
  'rate-limit-exceeded': { retry_after: z.number().int().min(1).meta({ description: 'Seconds, as in Retry-After' }) },
  'request-header-fields-too-large': {},
  'internal-error': {},
  'storage-error': {},
  'service-unavailable': { retry_after: z.number().int().min(1).optional() },
};

export const problemTypes = Object.keys(problemCatalog) as ProblemType[];

/** One strict schema per problem type: an unexpected member is a contract failure. */
export const problemSchemas = Object.fromEntries(problemTypes.map((slug): [ProblemType, z.ZodObject] => [slug, z.strictObject({ ...base(slug), ...extensions[slug] })])) as {
  [T in ProblemType]: z.ZodObject;
};

/** Any problem (unrouted requests: the gateway's 404 / 405 / 413 / 431 ...): the standard members; extensions allowed. */
export const anyProblemSchema = z.looseObject({
  type: z.string(),
  title: z.string(),
  status: z.number().int().min(400).max(599),
  detail: z.string(),
  instance: z.string(),
  request_id: z.string(),
});

/** Component name of a problem type's schema (`Problem` + PascalCase slug). */
export function problemSchemaName(slug: ProblemType): string {
  return `Problem${slug.replace(/(^|-)([a-z])/g, (_, __, c: string) => c.toUpperCase())}`;
}

/** The slug of a problem body's `type`, or undefined when it is not one of the catalog's. */
export function problemSlugOf(type: unknown): ProblemType | undefined {
  if (typeof type !== 'string') return undefined;
  const slug = type.slice(type.lastIndexOf('/') + 1);
  return Object.hasOwn(problemCatalog, slug) ? (slug as ProblemType) : undefined;
}
