import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { extname, join, resolve } from 'node:path';
import { consoleCache, consoleMediaTypes, consoleSecurityHeaders, hashedAssetName, withSignInMeta } from '../../shared/console/headers';
import { defineFunction } from '../../shared/http/function';
import { ProblemError } from '../../shared/http/problem';

/**
 * GET /console/{file}: the fleet console as deployed, beside the admin API behind the same API
 * Gateway (one origin: the page calls the API without CORS, and its CSP allows `connect-src
 * 'self'` plus Cloud Storage for uploads). It serves the files `npm run build` packs from
 * console/dist: index.html (never cached; it names the current hashed files, and carries the
 * sign-in configuration: Google Identity Services for the OAuth client whose ID tokens the API
 * accepts, ADMIN_TOKEN_AUDIENCE) and the content-hashed files (cached for a year, immutable).
 * The local gateway serves the same files itself, with a local sign-in (emulators/console-server.ts).
 */
// Deployed: dist/functions/console/assets.js beside dist/console/; from the sources: console/dist.
const distDir = [resolve(__dirname, '../../console/dist'), resolve(__dirname, '../../console')].find((d) => existsSync(join(d, 'index.html'))) ?? resolve(__dirname, '../../console/dist');

export const consoleAssets = defineFunction('consoleAssets', ({ config }) => async ({ req, res, params }) => {
  const name = params.file ?? '';
  const file = name === 'index.html' ? name : hashedAssetName.test(name) ? name : null;
  if (!file) throw new ProblemError('not-found', `No console file ${name.slice(0, 100)}`);
  let body = await readFile(join(distDir, file)).catch(() => {
    throw new ProblemError('not-found', `No console file ${file}`);
  });
  if (file === 'index.html') body = Buffer.from(withSignInMeta(body.toString('utf8'), { signIn: 'google', googleClientId: config.ADMIN_TOKEN_AUDIENCE }));
  for (const [header, value] of Object.entries(consoleSecurityHeaders({ storageOrigin: 'https://storage.googleapis.com', googleSignIn: true }))) res.setHeader(header, value);
  res.status(200);
  res.setHeader('Content-Type', consoleMediaTypes[extname(file)] ?? 'application/octet-stream');
  res.setHeader('Cache-Control', file === 'index.html' ? consoleCache.page : consoleCache.immutable);
  res.setHeader('Content-Length', body.length);
  res.end(req.method === 'HEAD' ? undefined : body);
});
