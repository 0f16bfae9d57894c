import { MachineNotFound } from '../../shared/domain/errors';
import { defineFunction } from '../../shared/http/function';
import { uuidV7Param } from '../../shared/http/params';
import { sendJson } from '../../shared/http/respond';
import { bootsListed, bootView } from '../../shared/lifecycle/timeline';

/** The machine's last boots (newest first, at most `bootsListed`), each with its phases in order. */
export const machinesBoots = defineFunction('machinesBoots', ({ inventory, timeline }) => async ({ res, params }) => {
  const id = uuidV7Param(params, 'id');
  const [machine, boots] = await Promise.all([inventory.getMachine(id), timeline.list(id, bootsListed)]);
  if (!machine) throw new MachineNotFound(id);
  sendJson(res, 200, { machine_id: id, boots: boots.map(bootView) });
});
