import { defineFunction } from '../../shared/http/function';
import { uuidV7Param } from '../../shared/http/params';
import { sendJson } from '../../shared/http/respond';

export const uploadsFinalize = defineFunction('uploadsFinalize', ({ uploads }) => async ({ res, params, log }) => {
  const { profile, created } = await uploads.finalize(uuidV7Param(params, 'id'), log);
  if (created) res.setHeader('Location', `/api/v1/boot/${profile.machine_id}/profile`);
  sendJson(res, created ? 201 : 200, profile);
});
