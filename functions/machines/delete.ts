import { httpFunction } from '../../shared/http/function';
import { uuidV7Param } from '../../shared/http/params';
import { sendEmpty } from '../../shared/http/respond';
import { machineRepository } from '../../shared/repositories';

httpFunction('machinesDelete', async ({ res, params }) => {
  await machineRepository().delete(uuidV7Param(params, 'id'));
  sendEmpty(res, 204);
});
