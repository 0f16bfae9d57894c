import { defineFunction } from '../../shared/http/function';
import { sendJson } from '../../shared/http/respond';
import { requireJsonBody } from '../../shared/http/validate';

export const ipxeUploadsCreate = defineFunction('ipxeUploadsCreate', ({ ipxe }) => async ({ req, res, log }) => {
  requireJsonBody(req.header('content-type'));
  const session = await ipxe.createSession(req.body, log);
  res.setHeader('Cache-Control', 'no-store');
  sendJson(res, 201, session);
});
