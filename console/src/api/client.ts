import createClient, { type Middleware } from 'openapi-fetch';
import type { components, paths } from './schema';
import { currentToken, signOut } from '../auth';

/** The admin API, typed from the service's own OpenAPI document (./schema.d.ts, scripts/console-schema.ts). */
export const api = createClient<paths>({ baseUrl: '' });

const bearer: Middleware = {
  onRequest({ request }) {
    const token = currentToken();
    if (token && new URL(request.url).pathname.startsWith('/api/')) request.headers.set('Authorization', `Bearer ${token}`);
    return request;
  },
};
api.use(bearer);

export type Machine = components['schemas']['Machine'];
export type MachineSpec = components['schemas']['MachineSpec'];
export type BootProfile = components['schemas']['BootProfile'];
export type UploadSession = components['schemas']['UploadSession'];
export type UploadFile = components['schemas']['UploadFile'];
export type Pagination = components['schemas']['MachineList']['pagination'];
export type Boot = paths['/api/v1/machines/{id}/boots']['get']['responses'][200]['content']['application/json']['boots'][number];
export type Discovery = paths['/api/v1/discoveries']['get']['responses'][200]['content']['application/json']['discoveries'][number];

/** An API problem (RFC 9457) as the console shows it: where the action was taken. */
export class ApiProblem extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    readonly detail: string,
    readonly type: string,
    /** Seconds, from Retry-After (429, 503). */
    readonly retryAfter?: number,
    readonly fields: { field: string; reason: string }[] = [],
  ) {
    super(`${status} ${title}: ${detail}`);
  }
}

interface ProblemBody {
  type?: string;
  title?: string;
  detail?: string;
  invalid_fields?: { field: string; reason: string }[];
}

/** The problem of a failed answer; a 401 signs out (the token expired or was refused). */
export function problemOf(response: Response, body: unknown): ApiProblem {
  const p = (typeof body === 'object' && body !== null ? body : {}) as ProblemBody;
  const retry = Number(response.headers.get('Retry-After'));
  if (response.status === 401) signOut('Your sign-in expired or was refused: sign in again.');
  return new ApiProblem(response.status, p.title ?? response.statusText ?? 'Request failed', p.detail ?? `The service answered ${response.status}`, p.type ?? 'about:blank', Number.isFinite(retry) && retry > 0 ? retry : undefined, p.invalid_fields ?? []);
}

/** The data of an openapi-fetch answer, or its problem thrown. */
export function must<T>(answer: { data?: T; error?: unknown; response: Response }): T {
  if (answer.response.ok && answer.data !== undefined) return answer.data;
  if (answer.response.ok && answer.response.status === 204) return undefined as T;
  throw problemOf(answer.response, answer.error);
}

/** A fetch that failed before any answer: shown like a problem. */
export function asProblem(err: unknown): ApiProblem {
  if (err instanceof ApiProblem) return err;
  return new ApiProblem(0, 'No answer from the service', err instanceof Error ? err.message : String(err), 'about:blank');
}
