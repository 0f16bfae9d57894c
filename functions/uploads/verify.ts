import { defineFunction } from '../../shared/http/function';
import { uuidV7Param } from '../../shared/http/params';
import { sendJson } from '../../shared/http/respond';

export const uploadsVerify = defineFunction('uploadsVerify', ({ uploads }) => async ({ res, params, log }) => {
  const session = await uploads.verify(uuidV7Param(params, 'id'), log);
  // The answer holds upload URLs (bearer credentials for one object each).
  res.setHeader('Cache-Control', 'no-store');
  sendJson(res, 200, session);
});
