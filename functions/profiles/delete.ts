import { defineFunction } from '../../shared/http/function';
import { uuidV7Param } from '../../shared/http/params';
import { sendEmpty } from '../../shared/http/respond';

export const profilesDelete = defineFunction('profilesDelete', ({ profiles }) => async ({ res, params, log }) => {
  await profiles.delete(uuidV7Param(params, 'machine_id'), log);
  sendEmpty(res, 204);
});
