import { httpFunction } from '../../shared/http/function';
import { uuidV7Param } from '../../shared/http/params';
import { sendJson } from '../../shared/http/respond';
import { parseOrThrow, requireJsonBody } from '../../shared/http/validate';
import { machineSpecSchema } from '../../shared/domain/machine';
import { machineRepository } from '../../shared/repositories';

httpFunction('machinesUpdate', async ({ req, res, params }) => {
  const id = uuidV7Param(params, 'id');
  requireJsonBody(req.header('content-type'));
  const spec = parseOrThrow(machineSpecSchema, req.body);
  sendJson(res, 200, await machineRepository().replace(id, spec));
});
