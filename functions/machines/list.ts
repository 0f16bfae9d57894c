import { machineListQuerySchema } from '../../shared/domain/list-query';
import { defineFunction } from '../../shared/http/function';
import { sendJson } from '../../shared/http/respond';
import { parseOrThrow } from '../../shared/http/validate';

export const machinesList = defineFunction('machinesList', ({ inventory }) => async ({ req, res }) => {
  const query = parseOrThrow(machineListQuerySchema, req.query, 'The query parameters failed validation');
  const { machines, total } = await inventory.listMachines({ page: query.page, perPage: query.per_page, mac: query.mac });
  sendJson(res, 200, {
    machines,
    pagination: { total, page: query.page, per_page: query.per_page, total_pages: Math.ceil(total / query.per_page) },
  });
});
