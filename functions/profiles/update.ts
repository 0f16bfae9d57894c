import { defineFunction } from '../../shared/http/function';
import { uuidV7Param } from '../../shared/http/params';
import { sendJson } from '../../shared/http/respond';

export const profilesUpdate = defineFunction('profilesUpdate', ({ profiles }) => async ({ req, res, params, log }) => {
  sendJson(res, 200, await profiles.replace(req, uuidV7Param(params, 'machine_id'), log));
});
