import { MachineNotFound } from '../../shared/domain/errors';
import { defineFunction } from '../../shared/http/function';
import { uuidV7Param } from '../../shared/http/params';
import { sendJson } from '../../shared/http/respond';

export const machinesGet = defineFunction('machinesGet', ({ inventory }) => async ({ res, params }) => {
  const id = uuidV7Param(params, 'id');
  const machine = await inventory.getMachine(id);
  if (!machine) throw new MachineNotFound(id);
  const { bootProfileId: _internal, ...body } = machine;
  sendJson(res, 200, body);
});
