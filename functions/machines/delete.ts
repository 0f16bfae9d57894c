import { defineFunction } from '../../shared/http/function';
import { uuidV7Param } from '../../shared/http/params';
import { sendEmpty } from '../../shared/http/respond';

export const machinesDelete = defineFunction('machinesDelete', ({ inventory }) => async ({ res, params }) => {
  await inventory.deleteMachine(uuidV7Param(params, 'id'));
  sendEmpty(res, 204);
});
