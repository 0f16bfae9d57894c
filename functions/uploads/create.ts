import { defineFunction } from '../../shared/http/function';
import { sendJson } from '../../shared/http/respond';
import { requireJsonBody } from '../../shared/http/validate';

export const uploadsCreate = defineFunction('uploadsCreate', ({ uploads }) => async ({ req, res, log }) => {
  requireJsonBody(req.header('content-type'));
  // A browser's Origin (scheme://host[:port], nothing else) names the page its Storage sessions answer CORS for.
  const origin = req.header('origin');
  const session = await uploads.create(req.body, log, origin && /^https?:\/\/[a-z0-9.-]+(:\d{1,5})?$/i.test(origin) ? origin : undefined);
  res.setHeader('Location', `/api/v1/uploads/${session.id}`);
  res.setHeader('Cache-Control', 'no-store');
  sendJson(res, 201, session);
});
