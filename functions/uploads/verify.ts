import { validationError } from '../../shared/http/problem';
import { defineFunction } from '../../shared/http/function';
import { uuidV7Param } from '../../shared/http/params';
import { sendJson } from '../../shared/http/respond';
import { maxVerifyWaitSeconds } from '../../shared/uploads/service';

export const uploadsVerify = defineFunction('uploadsVerify', ({ uploads }) => async ({ req, res, params, log }) => {
  const wait = req.query.wait ?? '0';
  if (typeof wait !== 'string' || !/^\d{1,3}$/.test(wait) || Number(wait) > maxVerifyWaitSeconds) {
    throw validationError([{ field: 'wait', reason: `must be whole seconds from 0 to ${maxVerifyWaitSeconds}` }], 'Query parameter wait is not valid');
  }
  const session = await uploads.verify(uuidV7Param(params, 'id'), log, Number(wait) * 1000);
  // The answer holds upload URLs (bearer credentials for one object each).
  res.setHeader('Cache-Control', 'no-store');
  sendJson(res, 200, session);
});
