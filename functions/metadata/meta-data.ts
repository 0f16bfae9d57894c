import { renderMetaData } from '../../shared/fleet/metadata';
import { defineFunction } from '../../shared/http/function';
import { noStore } from '../../shared/http/respond';

/** GET /metadata/{mac}/meta-data: NoCloud meta-data (instance-id, local-hostname). */
export const metadataMetaData = defineFunction('metadataMetaData', ({ metadata }) => async ({ req, res, params, log }) => {
  const { target } = await metadata.target(req, res, params.mac, log);
  const body = renderMetaData(target);
  res.status(200);
  res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  res.setHeader('Cache-Control', noStore);
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.end(body);
});
