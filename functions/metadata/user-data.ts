import { defineFunction } from '../../shared/http/function';

/**
 * GET /metadata/{mac}/user-data: never the user-data (anyone on the boot network can name a
 * MAC): 404 pointing at the boot's own `{{metadata_url}}` (functions/metadata/seed.ts).
 */
export const metadataUserData = defineFunction('metadataUserData', ({ metadata }) => async ({ req, res, params, log }) => {
  await metadata.userData(req, res, params.mac, log);
});
