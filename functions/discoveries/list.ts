import { machineListQuerySchema } from '../../shared/domain/list-query';
import { defineFunction } from '../../shared/http/function';
import { sendJson } from '../../shared/http/respond';
import { parseOrThrow } from '../../shared/http/validate';

/** Unexpired discoveries, most recently seen first; the query and `pagination` are those of GET /api/v1/machines. */
export const discoveriesList = defineFunction('discoveriesList', ({ discoveries }) => async ({ req, res }) => {
  const query = parseOrThrow(machineListQuerySchema, req.query, 'The query parameters failed validation');
  const { discoveries: page, total } = await discoveries.list({ page: query.page, perPage: query.per_page, mac: query.mac });
  sendJson(res, 200, {
    discoveries: page,
    pagination: { total, page: query.page, per_page: query.per_page, total_pages: Math.ceil(total / query.per_page) },
  });
});
