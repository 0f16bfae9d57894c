import { userDataMediaTypes } from '../../shared/fleet/user-data';
import { defineFunction } from '../../shared/http/function';
import { noStore } from '../../shared/http/respond';

/**
 * GET /nocloud/{key}/{file}: a boot's own NoCloud seed (`{{metadata_url}}`): meta-data,
 * user-data or vendor-data, only to the machine that fetched that boot's script.
 */
export const nocloudSeed = defineFunction('nocloudSeed', ({ metadata }) => async ({ req, res, params, log }) => {
  const document = await metadata.seed(req, res, params.key, params.file, log);
  const body = Buffer.from(document.file === 'meta-data' ? document.text : (document.data?.text ?? ''), 'utf8');
  res.status(200);
  res.setHeader('Content-Type', document.file !== 'meta-data' && document.data ? userDataMediaTypes[document.data.format] : 'text/plain; charset=utf-8');
  res.setHeader('Cache-Control', noStore);
  res.setHeader('Content-Length', body.length);
  res.end(body);
});
