import { machineSpecSchema } from '../../shared/domain/machine';
import { defineFunction } from '../../shared/http/function';
import { uuidV7Param } from '../../shared/http/params';
import { sendJson } from '../../shared/http/respond';
import { parseOrThrow } from '../../shared/http/validate';
import { applyMergePatch, mergePatchBody } from '../../shared/lifecycle/merge-patch';

/** RFC 7396 merge patch of the machine (without its id): `{"netboot":"once"}` changes nothing else. */
export const machinesPatch = defineFunction('machinesPatch', ({ machineChanges }) => async ({ req, res, params }) => {
  const id = uuidV7Param(params, 'id');
  const patch = mergePatchBody(req);
  const machine = await machineChanges.patchMachine(id, (current) => parseOrThrow(machineSpecSchema, applyMergePatch(current, patch), 'The patched machine failed validation'));
  sendJson(res, 200, machine);
});
