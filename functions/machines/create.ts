import { httpFunction } from '../../shared/http/function';
import { sendJson } from '../../shared/http/respond';
import { parseOrThrow, requireJsonBody } from '../../shared/http/validate';
import { machineSpecSchema } from '../../shared/domain/machine';
import { machineRepository } from '../../shared/repositories';

httpFunction('machinesCreate', async ({ req, res }) => {
  requireJsonBody(req.header('content-type'));
  const spec = parseOrThrow(machineSpecSchema, req.body);
  const machine = await machineRepository().create(spec);
  res.setHeader('Location', `/api/v1/machines/${machine.id}`);
  sendJson(res, 201, { id: machine.id });
});
