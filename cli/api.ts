// The admin API over fetch: JSON in, JSON out, problem+json answers as ApiProblemError.

export interface Problem {
  type?: string;
  title?: string;
  status?: number;
  detail?: string;
  [member: string]: unknown;
}

/** A non-2xx answer of the service. */
export class ApiProblemError extends Error {
  constructor(
    readonly status: number,
    readonly problem: Problem,
    readonly method: string,
    readonly path: string,
  ) {
    super(`${problem.title ?? `HTTP ${status}`}${problem.detail ? `: ${problem.detail}` : ''}`);
  }

  /** The last segment of the problem type URI (`boot-profile-exists`). */
  get slug(): string {
    return (this.problem.type ?? '').split('/').pop() ?? '';
  }
}

/** The service could not be reached (DNS, refused, reset, timeout). */
export class NetworkError extends Error {}

export interface ApiResponse<T> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

export class ApiClient {
  readonly base: string;

  constructor(
    base: string,
    private readonly token: string | undefined,
    private readonly timeoutMs = 60_000,
  ) {
    this.base = base.replace(/\/+$/, '');
  }

  async request<T = Record<string, unknown>>(method: string, path: string, init: { json?: unknown; auth?: boolean; contentType?: string } = {}): Promise<ApiResponse<T>> {
    const headers: Record<string, string> = { accept: 'application/json, application/problem+json, text/plain' };
    if (init.auth !== false && this.token) headers.authorization = `Bearer ${this.token}`;
    let body: string | undefined;
    if (init.json !== undefined) {
      headers['content-type'] = init.contentType ?? 'application/json';
      body = JSON.stringify(init.json);
    }
    let res: Response;
    let text: string;
    try {
      res = await fetch(this.base + path, { method, headers, body, redirect: 'manual', signal: AbortSignal.timeout(this.timeoutMs) });
      text = await res.text();
    } catch (err) {
      throw new NetworkError(`cannot reach ${this.base} (${method} ${path}): ${describeNetworkError(err)}`);
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
      throw new ApiProblemError(res.status, problem, method, path);
    }
    return { status: res.status, headers: res.headers, body: (parsed ?? text) as T, text };
  }
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
  sha256: string;
  upload: { url: string; method: string; chunk_multiple: number } | null;
}

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
