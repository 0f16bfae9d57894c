import { httpFunction } from '../../shared/http/function';
import { sendJson } from '../../shared/http/respond';
import { createProfile } from '../../shared/profiles/service';

httpFunction('profilesCreate', async ({ req, res, log }) => {
  const profile = await createProfile(req, log);
  res.setHeader('Location', `/api/v1/boot/${profile.machine_id}/profile`);
  sendJson(res, 201, profile);
});
