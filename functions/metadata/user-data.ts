import { defineFunction } from '../../shared/http/function';
import { noStore } from '../../shared/http/respond';

/**
 * GET /metadata/{mac}/user-data: always empty (text/plain), since anyone on the boot network
 * can name a MAC: the profile's user-data is served only under the boot's own
 * `{{metadata_url}}` (functions/metadata/seed.ts). A known MAC only.
 */
export const metadataUserData = defineFunction('metadataUserData', ({ metadata }) => async ({ req, res, params, log }) => {
  await metadata.userData(req, res, params.mac, log);
  res.status(200);
  res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  res.setHeader('Cache-Control', noStore);
  res.setHeader('Content-Length', 0);
  res.end();
});
