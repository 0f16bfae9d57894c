import { defineFunction } from '../../shared/http/function';
import { uuidV7Param } from '../../shared/http/params';
import { sendEmpty } from '../../shared/http/respond';

export const uploadsCancel = defineFunction('uploadsCancel', ({ uploads }) => async ({ res, params, log }) => {
  await uploads.cancel(uuidV7Param(params, 'id'), log);
  sendEmpty(res, 204);
});
