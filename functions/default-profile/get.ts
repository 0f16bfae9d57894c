import { defineFunction } from '../../shared/http/function';
import { sendJson } from '../../shared/http/respond';
import { defaultProfileOwner } from '../../shared/inventory/inventory';

/** GET /api/v1/boot/default/profile: the profile unregistered MACs boot; 404 boot-profile-not-found when none is set. */
export const defaultProfileGet = defineFunction('defaultProfileGet', ({ profiles }) => async ({ res }) => {
  sendJson(res, 200, await profiles.get(defaultProfileOwner));
});
