import { httpFunction } from '../../shared/http/function';
import { uuidV7Param } from '../../shared/http/params';
import { sendEmpty } from '../../shared/http/respond';
import { deleteProfile } from '../../shared/profiles/service';

httpFunction('profilesDelete', async ({ res, params, log }) => {
  await deleteProfile(uuidV7Param(params, 'machine_id'), log);
  sendEmpty(res, 204);
});
