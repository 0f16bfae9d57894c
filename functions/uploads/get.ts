import { defineFunction } from '../../shared/http/function';
import { uuidV7Param } from '../../shared/http/params';
import { sendJson } from '../../shared/http/respond';

export const uploadsGet = defineFunction('uploadsGet', ({ uploads }) => async ({ res, params }) => {
  const session = await uploads.get(uuidV7Param(params, 'id'));
  // The answer holds upload URLs (bearer credentials for one object each).
  res.setHeader('Cache-Control', 'no-store');
  sendJson(res, 200, session);
});
