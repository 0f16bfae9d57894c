import { BootProfileNotFound } from '../../shared/domain/errors';
import { parseUuidV7 } from '../../shared/domain/ids';
import { userDataMediaTypes } from '../../shared/fleet/user-data';
import { defineFunction } from '../../shared/http/function';
import { ProblemError, validationError } from '../../shared/http/problem';
import { noStore } from '../../shared/http/respond';
import { defaultProfileOwner } from '../../shared/inventory/inventory';

/**
 * GET /api/v1/boot/{machine_id}/profile/{document}: the profile's cloud-init user-data or
 * vendor-data exactly as uploaded, for an administrator (the console shows it). The boot side
 * serves it only under a boot's own metadata URL; this is the admin's read.
 */
export const profilesCloudInit = defineFunction('profilesCloudInit', ({ inventory }) => async ({ res, params }) => {
  const raw = params.machine_id ?? '';
  const machineId = raw === defaultProfileOwner ? defaultProfileOwner : parseUuidV7(raw);
  if (!machineId) throw validationError([{ field: 'machine_id', reason: 'must be a UUIDv7 or "default"' }], 'Path parameter machine_id is not valid');
  const document = params.document;
  if (document !== 'user-data' && document !== 'vendor-data') throw validationError([{ field: 'document', reason: 'must be user-data or vendor-data' }], 'Path parameter document is not valid');
  const profileId = machineId === defaultProfileOwner ? (await inventory.getProfileOfMachine(defaultProfileOwner))?.id : (await inventory.getMachine(machineId))?.bootProfileId;
  const record = profileId ? await inventory.getProfile(profileId) : null;
  if (!record) throw new BootProfileNotFound(machineId);
  const data = document === 'user-data' ? record.userData : record.vendorData;
  if (!data) throw new ProblemError('not-found', `The boot profile of ${machineId} has no cloud-init ${document}`);
  res.status(200);
  res.setHeader('Content-Type', `${userDataMediaTypes[data.format]}; charset=utf-8`);
  res.setHeader('Cache-Control', noStore);
  res.setHeader('Content-Length', Buffer.byteLength(data.text));
  res.end(data.text);
});
