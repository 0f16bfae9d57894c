import { defineFunction } from '../../shared/http/function';
import { sendEmpty } from '../../shared/http/respond';
import { defaultProfileOwner } from '../../shared/inventory/inventory';

/** DELETE /api/v1/boot/default/profile: its blobs are released as for a machine's profile (what nothing else needs is deleted). */
export const defaultProfileDelete = defineFunction('defaultProfileDelete', ({ profiles }) => async ({ res, log }) => {
  await profiles.delete(defaultProfileOwner, log);
  sendEmpty(res, 204);
});
