import { defineFunction } from '../../shared/http/function';
import { noStore } from '../../shared/http/respond';

/** GET /metadata/{mac}/vendor-data: empty (no vendor-data is configured); a known MAC only. */
export const metadataVendorData = defineFunction('metadataVendorData', ({ metadata }) => async ({ req, res, params, log }) => {
  await metadata.target(req, res, params.mac, log);
  res.status(200);
  res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  res.setHeader('Cache-Control', noStore);
  res.setHeader('Content-Length', 0);
  res.end();
});
