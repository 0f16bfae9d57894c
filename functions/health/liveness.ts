import { completeHealthCheck } from '../../shared/health';
import { defineFunction } from '../../shared/http/function';
import { noStore, sendEmpty } from '../../shared/http/respond';

// Alive means this process answers: a Firestore or Storage outage is not fixed by a restart.
export const healthLiveness = defineFunction('healthLiveness', ({ telemetry }) => async ({ res, log }) => {
  const ok = await completeHealthCheck('liveness', () => Promise.resolve(true), log, telemetry.meters);
  res.setHeader('Cache-Control', noStore);
  sendEmpty(res, ok ? 200 : 503);
});
