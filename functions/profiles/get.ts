import { httpFunction } from '../../shared/http/function';
import { uuidV7Param } from '../../shared/http/params';
import { sendJson } from '../../shared/http/respond';
import { getProfile } from '../../shared/profiles/service';

httpFunction('profilesGet', async ({ res, params }) => {
  sendJson(res, 200, await getProfile(uuidV7Param(params, 'machine_id')));
});
