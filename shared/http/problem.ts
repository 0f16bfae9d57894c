import type { ServerResponse } from 'node:http';
import { DomainError } from '../domain/errors';

/** Every problem type the service answers with: the slug is the last segment of the `type` URI. */
export const problemCatalog = {
  'validation-error': { status: 400, title: 'Validation Error' },
  'invalid-json': { status: 400, title: 'Invalid JSON' },
  'invalid-mac-address': { status: 400, title: 'Invalid MAC Address' },
  unauthorized: { status: 401, title: 'Unauthorized' },
  forbidden: { status: 403, title: 'Forbidden' },
  'not-found': { status: 404, title: 'Not Found' },
  'machine-not-found': { status: 404, title: 'Machine Not Found' },
  'machine-not-configured': { status: 404, title: 'Machine Not Configured' },
  'user-data-not-found': { status: 404, title: 'User Data Not Found' },
  'boot-profile-not-found': { status: 404, title: 'Boot Profile Not Found' },
  'kernel-not-found': { status: 404, title: 'Kernel Not Found' },
  'boot-not-found': { status: 404, title: 'Boot Not Found' },
  'boot-phase-recorded': { status: 409, title: 'Boot Phase Already Recorded' },
  'initrd-not-found': { status: 404, title: 'Initrd Not Found' },
  'ipxe-binary-not-found': { status: 404, title: 'iPXE Binary Not Found' },
  'method-not-allowed': { status: 405, title: 'Method Not Allowed' },
  'request-timeout': { status: 408, title: 'Request Timeout' },
  'duplicate-mac-address': { status: 409, title: 'Duplicate MAC Address' },
  'boot-profile-exists': { status: 409, title: 'Boot Profile Already Exists' },
  'machine-has-boot-profile': { status: 409, title: 'Machine Has Boot Profile' },
  'upload-session-not-found': { status: 404, title: 'Upload Session Not Found' },
  'upload-session-cancelled': { status: 409, title: 'Upload Session Cancelled' },
  'upload-session-finalized': { status: 409, title: 'Upload Session Finalized' },
  'upload-incomplete': { status: 409, title: 'Upload Incomplete' },
  'ipxe-upload-incomplete': { status: 409, title: 'iPXE Upload Incomplete' },
  'blob-unavailable': { status: 409, title: 'Blob Unavailable' },
  'upload-session-expired': { status: 410, title: 'Upload Session Expired' },
  'payload-too-large': { status: 413, title: 'Payload Too Large' },
  'unsupported-media-type': { status: 415, title: 'Unsupported Media Type' },
  'range-not-satisfiable': { status: 416, title: 'Range Not Satisfiable' },
  'expectation-failed': { status: 417, title: 'Expectation Failed' },
  'file-too-large': { status: 422, title: 'File Too Large' },
  'unknown-machine': { status: 422, title: 'Unknown Machine' },
  'invalid-kernel-args': { status: 422, title: 'Invalid Kernel Arguments' },
  'invalid-user-data': { status: 422, title: 'Invalid User Data' },
  'checksum-mismatch': { status: 422, title: 'Checksum Mismatch' },
  'ipxe-checksum-mismatch': { status: 422, title: 'iPXE Checksum Mismatch' },
  'rate-limit-exceeded': { status: 429, title: 'Rate Limit Exceeded' },
  'request-header-fields-too-large': { status: 431, title: 'Request Header Fields Too Large' },
  'internal-error': { status: 500, title: 'Internal Server Error' },
  'storage-error': { status: 500, title: 'Storage Error' },
  'service-unavailable': { status: 503, title: 'Service Unavailable' },
} as const;

export type ProblemType = keyof typeof problemCatalog;

/** Extension members (RFC 7807 section 3.2); snake_case like the rest of the API. */
export type ProblemMembers = Record<string, unknown>;

export interface InvalidField {
  field: string;
  reason: string;
}

/**
 * The one error type that becomes an HTTP answer. Anything else thrown is an
 * internal error: logged in full, answered with a bare 500.
 */
export class ProblemError extends Error {
  readonly status: number;
  readonly title: string;

  constructor(
    readonly type: ProblemType,
    readonly detail: string,
    readonly members: ProblemMembers = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(detail);
    this.name = 'ProblemError';
    this.status = problemCatalog[type].status;
    this.title = problemCatalog[type].title;
  }
}

/** A domain error as the problem of the same name (the catalog gives its status and title). */
export function problemFromDomain(error: DomainError): ProblemError {
  return new ProblemError(error.kind, error.message, error.members);
}

/** What a thrown value becomes on the wire: its problem, or undefined for an unexpected error (a bare 500). */
export function asProblem(error: unknown): ProblemError | undefined {
  if (error instanceof ProblemError) return error;
  if (error instanceof DomainError) return problemFromDomain(error);
  return undefined;
}

export function validationError(invalidFields: InvalidField[], detail = 'The request body failed validation'): ProblemError {
  return new ProblemError('validation-error', detail, { invalid_fields: invalidFields });
}

export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance: string;
  [member: string]: unknown;
}

/** `typeBase`: PROBLEM_TYPE_BASE, the base URI of every problem `type`. */
export function problemBody(error: ProblemError, instance: string, requestId: string, typeBase: string): ProblemBody {
  return {
    type: new URL(error.type, typeBase).toString(),
    title: error.title,
    status: error.status,
    detail: error.detail,
    instance,
    ...error.members,
    request_id: requestId,
  };
}

export function sendProblem(res: ServerResponse, error: ProblemError, instance: string, requestId: string, typeBase: string): void {
  if (res.headersSent) {
    // A streamed body was already under way: the only honest signal left is a cut connection.
    res.destroy();
    return;
  }
  const body = JSON.stringify(problemBody(error, instance, requestId, typeBase));
  res.statusCode = error.status;
  // Headers a success path may have set already describe a body that is not coming.
  res.removeHeader('ETag');
  res.removeHeader('Content-Range');
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Content-Type', 'application/problem+json');
  res.setHeader('Content-Length', Buffer.byteLength(body));
  for (const [name, value] of Object.entries(error.headers)) res.setHeader(name, value);
  res.end(body);
}
