import { httpFunction } from '../../shared/http/function';
import { uuidV7Param } from '../../shared/http/params';
import { sendJson } from '../../shared/http/respond';
import { machineRepository } from '../../shared/repositories';
import { machineNotFound } from '../../shared/repositories/firestore-machines';

httpFunction('machinesGet', async ({ res, params }) => {
  const id = uuidV7Param(params, 'id');
  const machine = await machineRepository().get(id);
  if (!machine) throw machineNotFound(id);
  sendJson(res, 200, machine);
});
