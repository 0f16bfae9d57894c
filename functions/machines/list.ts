import { httpFunction } from '../../shared/http/function';
import { sendJson } from '../../shared/http/respond';
import { parseOrThrow } from '../../shared/http/validate';
import { machineListQuerySchema } from '../../shared/domain/list-query';
import { machineRepository } from '../../shared/repositories';

httpFunction('machinesList', async ({ req, res }) => {
  const query = parseOrThrow(machineListQuerySchema, req.query, 'The query parameters failed validation');
  const { machines, total } = await machineRepository().list({ page: query.page, perPage: query.per_page, mac: query.mac });
  sendJson(res, 200, {
    machines,
    pagination: { total, page: query.page, per_page: query.per_page, total_pages: Math.ceil(total / query.per_page) },
  });
});
