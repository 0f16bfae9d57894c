import type http from 'node:http';
import { readFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { consoleDist } from '../scripts/build-console';
import { consoleCache, consoleMediaTypes, consoleSecurityHeaders, hashedAssetName, withSignInMeta } from '../shared/console/headers';
import { ProblemError, problemBody, type ProblemType } from '../shared/http/problem';
import { mintLocalToken } from './local-issuer';

/**
 * The console on the local gateway (/console/): the built files of console/dist
 * (`npm run build:console`; `npm start` builds them when stale), the console's
 * configuration (local sign-in), and POST /console/local-token, which mints a token
 * from the local issuer for the email the sign-in page sends. That endpoint exists
 * only here: the deployed console signs in with Google (functions/console/assets.ts).
 */
export function isConsolePath(path: string): boolean {
  return path === '/console' || path.startsWith('/console/');
}

export async function serveConsole(req: http.IncomingMessage, res: http.ServerResponse, path: string): Promise<void> {
  const headers = consoleSecurityHeaders({ storageOrigin: storageOrigin(), googleSignIn: false });
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  const method = req.method ?? 'GET';
  if (path === '/console') return answer(res, 308, 'text/plain; charset=utf-8', 'no-cache', 'Moved to /console/\n', { Location: '/console/' });
  const name = path.slice('/console/'.length);
  if (name === 'local-token') {
    if (method !== 'POST') return answer(res, 405, 'application/problem+json', 'no-store', problem('method-not-allowed', 'POST an email as JSON', path), { Allow: 'POST' });
    return mintForConsole(req, res);
  }
  if (method !== 'GET' && method !== 'HEAD') return answer(res, 405, 'application/problem+json', 'no-store', problem('method-not-allowed', 'The console is read with GET', path), { Allow: 'GET, HEAD' });
  if (name === 'config.json') return answer(res, 200, consoleMediaTypes['.json'] as string, 'no-store', JSON.stringify({ signIn: 'local' }), {}, method);
  const file = name === '' || name === 'index.html' ? 'index.html' : hashedAssetName.test(name) ? name : null;
  if (!file) return answer(res, 404, 'application/problem+json', 'no-store', problem('not-found', `No console file ${name.slice(0, 100)}`, path));
  let body: Buffer;
  try {
    body = await readFile(join(consoleDist, file));
  } catch {
    const hint = file === 'index.html' ? 'The console is not built: run npm run build:console (npm start builds it)' : `No console file ${file}`;
    return answer(res, file === 'index.html' ? 503 : 404, 'application/problem+json', 'no-store', problem(file === 'index.html' ? 'service-unavailable' : 'not-found', hint, path));
  }
  if (file === 'index.html') body = Buffer.from(withSignInMeta(body.toString('utf8'), { signIn: 'local' }));
  answer(res, 200, consoleMediaTypes[extname(file)] ?? 'application/octet-stream', file === 'index.html' ? consoleCache.page : consoleCache.immutable, body, {}, method);
}

function storageOrigin(): string {
  const host = process.env.STORAGE_EMULATOR_HOST ?? 'https://storage.googleapis.com';
  return new URL(host.includes('://') ? host : `http://${host}`).origin;
}

async function mintForConsole(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const path = '/console/local-token';
  let email: unknown;
  try {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > 4096) throw new Error('too large');
      chunks.push(chunk as Buffer);
    }
    email = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { email?: unknown }).email;
  } catch {
    email = undefined;
  }
  if (typeof email !== 'string' || !/^[^\s@]{1,64}@[^\s@]{1,190}$/.test(email)) {
    return answer(res, 400, 'application/problem+json', 'no-store', problem('validation-error', 'Send {"email": "someone@example.com"}', path));
  }
  // Any email gets a token; whether it may administer is the API's call (ADMIN_PRINCIPALS), as with Google's tokens.
  answer(res, 200, consoleMediaTypes['.json'] as string, 'no-store', JSON.stringify({ token: mintLocalToken({ email, sub: email }), expires_in: 3600 }));
}

/** The same problem body as every other answer of the stack (problem types under PROBLEM_TYPE_BASE). */
function problem(type: ProblemType, detail: string, instance: string): string {
  return JSON.stringify(problemBody(new ProblemError(type, detail), instance, '-', process.env.PROBLEM_TYPE_BASE ?? 'https://api.example.com/errors/'));
}

function answer(res: http.ServerResponse, status: number, type: string, cache: string, body: string | Buffer, extra: Record<string, string> = {}, method = 'GET'): void {
  res.statusCode = status;
  res.setHeader('Content-Type', type);
  res.setHeader('Cache-Control', cache);
  res.setHeader('Content-Length', Buffer.byteLength(body));
  for (const [name, value] of Object.entries(extra)) res.setHeader(name, value);
  res.end(method === 'HEAD' ? undefined : body);
}
