import { httpFunction } from '../../shared/http/function';
import { noStore, sendEmpty } from '../../shared/http/respond';
import { dependenciesReachable } from '../../shared/health';

httpFunction('healthStartup', async ({ res, log }) => {
  const ok = await dependenciesReachable(log);
  res.setHeader('Cache-Control', noStore);
  sendEmpty(res, ok ? 200 : 503);
});
