import { defineFunction } from '../../shared/http/function';
import { noStore } from '../../shared/http/respond';

/**
 * GET /metadata/{mac}/vendor-data: always empty (text/plain; cloud-init reads it as "nothing to
 * do"): the profile's vendor-data is served only under the boot's own `{{metadata_url}}`. A
 * known MAC only.
 */
export const metadataVendorData = defineFunction('metadataVendorData', ({ metadata }) => async ({ req, res, params, log }) => {
  await metadata.vendorData(req, res, params.mac, log);
  res.status(200);
  res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  res.setHeader('Cache-Control', noStore);
  res.setHeader('Content-Length', 0);
  res.end();
});
