import { MachineNotFound } from '../../shared/domain/errors';
import { parseMac } from '../../shared/domain/mac';
import { previewClient } from '../../shared/boot/preview';
import { defineFunction } from '../../shared/http/function';
import { uuidV7Param } from '../../shared/http/params';
import { validationError } from '../../shared/http/problem';
import { sendScript } from './send';

/** What this machine's NIC (`mac`, default its first) gets from `/boot.ipxe` now, recording nothing. */
export const machinesBootScript = defineFunction('machinesBootScript', ({ inventory, bootScripts }) => async ({ req, res, params, log }) => {
  const id = uuidV7Param(params, 'id');
  const client = previewClient(req);
  const machine = await inventory.getMachine(id);
  if (!machine) throw new MachineNotFound(id);
  const macs = machine.nics.map((nic) => nic.mac);
  const mac = req.query.mac === undefined ? macs[0] : parseMac(String(req.query.mac));
  const chosen = typeof mac === 'string' ? mac : mac?.ok ? mac.mac : undefined;
  if (!chosen || !macs.includes(chosen)) throw validationError([{ field: 'mac', reason: `must be one of the machine's NICs (${macs.join(', ')})` }], 'Query parameter mac is not a NIC of this machine');
  const pending = await bootScripts.lookup(chosen, true);
  sendScript(res, await pending.script(client, log));
});
