import { httpFunction } from '../../shared/http/function';
import { uuidV7Param } from '../../shared/http/params';
import { sendJson } from '../../shared/http/respond';
import { replaceProfile } from '../../shared/profiles/service';

httpFunction('profilesUpdate', async ({ req, res, params, log }) => {
  sendJson(res, 200, await replaceProfile(req, uuidV7Param(params, 'machine_id'), log));
});
