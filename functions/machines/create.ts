import { machineSpecSchema } from '../../shared/domain/machine';
import { defineFunction } from '../../shared/http/function';
import { sendJson } from '../../shared/http/respond';
import { parseOrThrow, requireJsonBody } from '../../shared/http/validate';

export const machinesCreate = defineFunction('machinesCreate', ({ inventory }) => async ({ req, res }) => {
  requireJsonBody(req.header('content-type'));
  const machine = await inventory.createMachine(parseOrThrow(machineSpecSchema, req.body));
  res.setHeader('Location', `/api/v1/machines/${machine.id}`);
  sendJson(res, 201, { id: machine.id });
});
