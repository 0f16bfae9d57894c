import { machineSpecSchema } from '../../shared/domain/machine';
import { defineFunction } from '../../shared/http/function';
import { uuidV7Param } from '../../shared/http/params';
import { sendJson } from '../../shared/http/respond';
import { parseOrThrow, requireJsonBody } from '../../shared/http/validate';

export const machinesUpdate = defineFunction('machinesUpdate', ({ inventory }) => async ({ req, res, params }) => {
  const id = uuidV7Param(params, 'id');
  requireJsonBody(req.header('content-type'));
  sendJson(res, 200, await inventory.replaceMachine(id, parseOrThrow(machineSpecSchema, req.body)));
});
