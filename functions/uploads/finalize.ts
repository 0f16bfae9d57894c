import { defineFunction } from '../../shared/http/function';
import { uuidV7Param } from '../../shared/http/params';
import { sendJson } from '../../shared/http/respond';
import { requireJsonBody } from '../../shared/http/validate';

export const uploadsFinalize = defineFunction('uploadsFinalize', ({ uploads }) => async ({ req, res, params, log }) => {
  // The body is optional (SHA-256 of parts files declared late); one that is sent must be JSON.
  const hasBody = Number(req.header('content-length') ?? 0) > 0 || req.header('transfer-encoding') !== undefined;
  if (hasBody) requireJsonBody(req.header('content-type'));
  const { profile, created } = await uploads.finalize(uuidV7Param(params, 'id'), log, hasBody ? req.body : undefined);
  if (created) res.setHeader('Location', `/api/v1/boot/${profile.machine_id}/profile`);
  sendJson(res, created ? 201 : 200, profile);
});
