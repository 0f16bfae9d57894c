import { completeHealthCheck, dependenciesReachable } from '../../shared/health';
import { defineFunction } from '../../shared/http/function';
import { noStore, sendEmpty } from '../../shared/http/respond';

export const healthStartup = defineFunction('healthStartup', ({ clients, telemetry }) => async ({ res, log }) => {
  const ok = await completeHealthCheck('startup', () => dependenciesReachable(clients, log), log, telemetry.meters);
  res.setHeader('Cache-Control', noStore);
  sendEmpty(res, ok ? 200 : 503);
});
