import { userDataMediaTypes } from '../../shared/fleet/user-data';
import { defineFunction } from '../../shared/http/function';
import { noStore } from '../../shared/http/respond';

/**
 * GET /metadata/{mac}/vendor-data: the profile's cloud-init vendor-data (multipart field
 * `vendor_data`), byte for byte and typed by its format like user-data; empty (text/plain)
 * when none is configured. A known MAC only.
 */
export const metadataVendorData = defineFunction('metadataVendorData', ({ metadata }) => async ({ req, res, params, log }) => {
  const vendorData = await metadata.vendorData(req, res, params.mac, log);
  const body = Buffer.from(vendorData?.text ?? '', 'utf8');
  res.status(200);
  res.setHeader('Content-Type', vendorData ? userDataMediaTypes[vendorData.format] : 'text/plain; charset=utf-8');
  res.setHeader('Cache-Control', noStore);
  res.setHeader('Content-Length', body.length);
  res.end(body);
});
