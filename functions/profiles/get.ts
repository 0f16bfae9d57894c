import { defineFunction } from '../../shared/http/function';
import { uuidV7Param } from '../../shared/http/params';
import { sendJson } from '../../shared/http/respond';

export const profilesGet = defineFunction('profilesGet', ({ profiles }) => async ({ res, params }) => {
  sendJson(res, 200, await profiles.get(uuidV7Param(params, 'machine_id')));
});
