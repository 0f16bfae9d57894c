import { dependenciesReachable } from '../../shared/health';
import { defineFunction } from '../../shared/http/function';
import { noStore, sendEmpty } from '../../shared/http/respond';

export const healthStartup = defineFunction('healthStartup', ({ clients }) => async ({ res, log }) => {
  const ok = await dependenciesReachable(clients, log);
  res.setHeader('Cache-Control', noStore);
  sendEmpty(res, ok ? 200 : 503);
});
