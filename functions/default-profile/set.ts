import { defineFunction } from '../../shared/http/function';
import { sendJson } from '../../shared/http/respond';

/** PUT /api/v1/boot/default/profile: a machine's PUT form; 201 when it creates the default profile, 200 when it replaces it. */
export const defaultProfileSet = defineFunction('defaultProfileSet', ({ profiles }) => async ({ req, res, log }) => {
  const { profile, created } = await profiles.setDefault(req, log);
  if (created) res.setHeader('Location', '/api/v1/boot/default/profile');
  sendJson(res, created ? 201 : 200, profile);
});
