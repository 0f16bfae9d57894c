import { defineFunction } from '../../shared/http/function';
import { sendJson } from '../../shared/http/respond';

export const profilesCreate = defineFunction('profilesCreate', ({ profiles }) => async ({ req, res, log }) => {
  const profile = await profiles.create(req, log);
  res.setHeader('Location', `/api/v1/boot/${profile.machine_id}/profile`);
  sendJson(res, 201, profile);
});
