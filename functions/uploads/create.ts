import { defineFunction } from '../../shared/http/function';
import { sendJson } from '../../shared/http/respond';
import { requireJsonBody } from '../../shared/http/validate';

export const uploadsCreate = defineFunction('uploadsCreate', ({ uploads }) => async ({ req, res, log }) => {
  requireJsonBody(req.header('content-type'));
  const session = await uploads.create(req.body, log);
  res.setHeader('Location', `/api/v1/uploads/${session.id}`);
  res.setHeader('Cache-Control', 'no-store');
  sendJson(res, 201, session);
});
