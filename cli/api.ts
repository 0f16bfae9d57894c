// The admin API over node:http(s): JSON in, JSON out, problem+json answers as ApiProblemError.
// Requests that may safely run twice are asked again after a transient failure.
// Not fetch: loading undici (Node's fetch) was a third of `netboot machine list`'s start-up CPU
// (docs/cli.md "Start-up"); the upload path (cli/resumable.ts) still uses fetch.
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { backOff } from 'exponential-backoff';

export interface Problem {
  type?: string;
  title?: string;
  status?: number;
  detail?: string;
  [member: string]: unknown;
}

/** A non-2xx answer of the service. */
export class ApiProblemError extends Error {
  /** What the user should do, in the CLI's own words (commands, file names); set where the context is known. */
  hint?: string;

  constructor(
    readonly status: number,
    readonly problem: Problem,
    readonly method: string,
    readonly path: string,
    /** The answer's Retry-After, in ms (seconds or an HTTP date). */
    readonly retryAfterMs?: number,
  ) {
    super(`${problem.title ?? `HTTP ${status}`}${problem.detail ? `: ${problem.detail}` : ''}`);
  }

  /** The last segment of the problem type URI (`boot-profile-exists`). */
  get slug(): string {
    return (this.problem.type ?? '').split('/').pop() ?? '';
  }
}

/** The service could not be reached (DNS, refused, reset, timeout). */
export class NetworkError extends Error {
  constructor(
    message: string,
    /** The connection was refused or the name did not resolve: the URL is wrong or nothing listens; asking again will not help. */
    readonly permanent = false,
  ) {
    super(message);
  }
}

/**
 * When a request is asked again: up to `attempts` in all, after 0 to firstDelayMs, then 0 to
 * twice that (full jitter), at most maxDelayMs. Only requests that may run twice (GET, PUT,
 * DELETE, and the POSTs the caller marks idempotent, such as finalize) and only after an answer
 * that says "try again" (408, 429, 500, 502, 503, 504) or a connection lost or timed out: what
 * Cloud Run, API Gateway and load balancers answer while instances start or are replaced.
 */
export interface RetryPolicy {
  attempts: number;
  firstDelayMs: number;
  maxDelayMs: number;
  /** The longest Retry-After (429, 503) honoured; a longer one ends the retries. */
  maxRetryAfterMs: number;
}

export const retryPolicy: RetryPolicy = { attempts: 5, firstDelayMs: 500, maxDelayMs: 8_000, maxRetryAfterMs: 60_000 };

const idempotentMethods = new Set(['GET', 'HEAD', 'PUT', 'DELETE']);
const transientStatuses = new Set([408, 429, 500, 502, 503, 504]);

/** One retry, for the user (stderr). */
export interface RetryNotice {
  method: string;
  path: string;
  /** The attempt that failed (1 = the first). */
  attempt: number;
  attempts: number;
  reason: string;
}

/** The answer's headers (names in any case). */
export interface ResponseHeaders {
  get(name: string): string | null;
}

export interface ApiResponse<T> {
  status: number;
  headers: ResponseHeaders;
  body: T;
  text: string;
}

export class ApiClient {
  readonly base: string;

  constructor(
    base: string,
    private readonly token: string | undefined,
    private readonly options: { timeoutMs?: number; onRetry?: (notice: RetryNotice) => void } = {},
  ) {
    this.base = base.replace(/\/+$/, '');
  }

  /** One API call; `idempotent` (default: GET, HEAD, PUT, DELETE) lets a transient failure be asked again. */
  async request<T = Record<string, unknown>>(method: string, path: string, init: { json?: unknown; auth?: boolean; contentType?: string; idempotent?: boolean; signal?: AbortSignal } = {}): Promise<ApiResponse<T>> {
    const policy = retryPolicy;
    if (!(init.idempotent ?? idempotentMethods.has(method))) return this.once<T>(method, path, init);
    return backOff(() => this.once<T>(method, path, init), {
      numOfAttempts: policy.attempts,
      startingDelay: policy.firstDelayMs,
      maxDelay: policy.maxDelayMs,
      timeMultiple: 2,
      jitter: 'full',
      retry: async (err: unknown, attemptNumber: number) => {
        const reason = transientReason(err);
        // Also called after the last attempt: no notice, no wait.
        if (reason === undefined || attemptNumber >= policy.attempts || init.signal?.aborted) return false;
        const retryAfterMs = err instanceof ApiProblemError ? err.retryAfterMs : undefined;
        if (retryAfterMs !== undefined && retryAfterMs > policy.maxRetryAfterMs) return false;
        this.options.onRetry?.({ method, path, attempt: attemptNumber, attempts: policy.attempts, reason: retryAfterMs ? `${reason}, Retry-After ${retryAfterMs / 1000} s` : reason });
        if (retryAfterMs) await new Promise((wake) => setTimeout(wake, retryAfterMs));
        return true;
      },
    });
  }

  private async once<T>(method: string, path: string, init: { json?: unknown; auth?: boolean; contentType?: string; signal?: AbortSignal }): Promise<ApiResponse<T>> {
    const headers: Record<string, string> = { accept: 'application/json, application/problem+json, text/plain' };
    if (init.auth !== false && this.token) headers.authorization = `Bearer ${this.token}`;
    let body: string | undefined;
    if (init.json !== undefined) {
      headers['content-type'] = init.contentType ?? 'application/json';
      body = JSON.stringify(init.json);
    }
    let res: { status: number; statusText: string; headers: ResponseHeaders };
    let text: string;
    try {
      ({ res, text } = await send(this.base + path, method, headers, body, this.options.timeoutMs ?? 60_000, init.signal));
    } catch (err) {
      const code = (err as { cause?: { code?: string } }).cause?.code;
      // A certificate this client does not trust fails the same way every time: say how to trust it.
      const untrusted = code !== undefined && certificateErrors.test(code);
      const hint = untrusted ? `; trust the service's CA with --ca FILE or NETBOOT_CA (npm start -- --tls: .cache/local-tls/ca.pem)` : '';
      throw new NetworkError(`cannot reach ${this.base} (${method} ${path}): ${describeNetworkError(err)}${hint}`, code === 'ECONNREFUSED' || code === 'ENOTFOUND' || untrusted);
    }
    const type = res.headers.get('content-type') ?? '';
    let parsed: unknown;
    if (/json/.test(type) && text) {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = undefined;
      }
    }
    if (res.status >= 400) {
      const problem: Problem =
        parsed && typeof parsed === 'object' ? (parsed as Problem) : { status: res.status, title: `HTTP ${res.status} ${res.statusText}`, detail: text.trim().slice(0, 300) || undefined };
      throw new ApiProblemError(res.status, problem, method, path, retryAfterOf(res.headers.get('retry-after')));
    }
    return { status: res.status, headers: res.headers, body: (parsed ?? text) as T, text };
  }
}

/**
 * One HTTP exchange, the whole answer as text. Errors look like fetch's (a TypeError whose
 * `cause` has the socket error's `code`; a TimeoutError when no answer came in time), so the
 * callers and describeNetworkError read them the same way. Redirects are not followed.
 */
function send(url: string, method: string, headers: Record<string, string>, body: string | undefined, timeoutMs: number, signal?: AbortSignal): Promise<{ res: { status: number; statusText: string; headers: ResponseHeaders }; text: string }> {
  return new Promise((done, fail) => {
    const target = new URL(url);
    // node:https (TLS, crypto) only for an https URL.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const request = target.protocol === 'https:' ? (require('node:https') as typeof import('node:https')).request : httpRequest;
    if (body !== undefined) headers['content-length'] = String(Buffer.byteLength(body));
    const timedOut = () => Object.assign(new Error('no answer in time'), { name: 'TimeoutError' });
    const req = request(target, { method, headers, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', (e) => fail(Object.assign(new TypeError('fetch failed'), { cause: e })));
      res.on('aborted', () => fail(Object.assign(new TypeError('fetch failed'), { cause: Object.assign(new Error('the connection closed mid-answer'), { code: 'ECONNRESET' }) })));
      res.on('end', () => {
        const h: IncomingHttpHeaders = res.headers;
        const get = (name: string) => {
          const v = h[name.toLowerCase()];
          return v === undefined ? null : Array.isArray(v) ? v.join(', ') : v;
        };
        done({ res: { status: res.statusCode ?? 0, statusText: res.statusMessage ?? '', headers: { get } }, text: Buffer.concat(chunks).toString('utf8') });
      });
    });
    req.on('timeout', () => req.destroy(timedOut()));
    req.on('error', (e: Error) => fail(e.name === 'TimeoutError' ? e : Object.assign(new TypeError('fetch failed'), { cause: e })));
    // Given up by the caller: the request ends now and holds the process no longer.
    signal?.addEventListener('abort', () => req.destroy(Object.assign(new Error('aborted'), { code: 'ABORT_ERR' })), { once: true });
    req.end(body);
  });
}

/** OpenSSL's verification failures as Node reports them (err.cause.code). */
const certificateErrors = /^(SELF_SIGNED_CERT_IN_CHAIN|DEPTH_ZERO_SELF_SIGNED_CERT|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT(_LOCALLY)?|CERT_HAS_EXPIRED|CERT_NOT_YET_VALID|ERR_TLS_CERT_ALTNAME_INVALID|CERT_UNTRUSTED|CERT_SIGNATURE_FAILURE)$/;

/** Why a failed attempt may succeed if asked again; undefined when it would fail the same way. */
function transientReason(err: unknown): string | undefined {
  if (err instanceof NetworkError) return err.permanent ? undefined : 'connection lost';
  if (err instanceof ApiProblemError && transientStatuses.has(err.status)) {
    const title = err.problem.title;
    return title?.startsWith('HTTP ') ? title : `HTTP ${err.status}${title ? ` ${title}` : ''}`;
  }
  return undefined;
}

function retryAfterOf(value: string | null): number | undefined {
  if (!value) return undefined;
  const seconds = /^\d+$/.test(value.trim()) ? Number(value) : (Date.parse(value) - Date.now()) / 1000;
  return Number.isFinite(seconds) ? Math.max(0, Math.ceil(seconds * 1000)) : undefined;
}

export function describeNetworkError(err: unknown): string {
  if (err instanceof Error) {
    if (err.name === 'TimeoutError') return 'no answer in time';
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    if (cause?.code) return `${cause.code}${cause.message ? ` (${cause.message})` : ''}`;
    return cause?.message ?? err.message;
  }
  return String(err);
}

// --- the upload-session API (POST /api/v1/uploads) ---

export interface SessionFile {
  blob_id: string;
  size: number;
  /** null: sent in parts without a SHA-256 declared at open (finalize declares it). */
  sha256: string | null;
  upload: { url: string; method: string; chunk_multiple: number } | PartsUpload | null;
  /** Parts files: the leading bytes the service has hashed. */
  verified_bytes?: number;
}

/** transfer "parts": each part its own resumable session; the service hashes them as they land. */
export interface PartsUpload {
  transfer: 'parts';
  method: string;
  part_size: number;
  parts: { number: number; offset: number; size: number; blob_id: string; url: string }[];
}

export const isPartsUpload = (upload: SessionFile['upload']): upload is PartsUpload => upload !== null && 'transfer' in upload && upload.transfer === 'parts';

export interface UploadSession {
  id: string;
  machine_id: string;
  mode: 'create' | 'replace';
  state: 'open' | 'finalized' | 'expired' | 'cancelled';
  expires_at?: string;
  /** kernel, initrd, and `kernel.<arch>` / `initrd.<arch>` per extra architecture. */
  files: { kernel: SessionFile; initrd: SessionFile } & Partial<Record<string, SessionFile>>;
  profile?: Record<string, unknown>;
}
