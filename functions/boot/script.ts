import { bootMac } from '../../shared/boot/service';
import { defineFunction } from '../../shared/http/function';
import { asProblem, ProblemError } from '../../shared/http/problem';
import { noStore } from '../../shared/http/respond';

export const bootScript = defineFunction('bootScript', ({ bootNetwork, bootScripts, limiter, config }) => async ({ req, res, log }) => {
  bootNetwork.assertAllowed(req);
  const mac = bootMac(req.query.mac);
  // Counted per MAC whether or not a machine has it (an unknown MAC's 404 counts too).
  // The count and the lookup are independent round trips: run them side by side, and
  // let a refusal win over whatever the lookup found.
  // Proxy mode lists large initrds as parts (shared/boot/parts.ts); redirect mode never does.
  const [limit, lookup] = await Promise.allSettled([limiter.enforceBootScript(res, mac, log), bootScripts.scriptFor(mac, config.ASSET_DELIVERY === 'proxy' ? config.ASSET_PART_BYTES : undefined)]);
  if (limit.status === 'rejected') throw limit.reason;
  if (lookup.status === 'rejected') throw asProblem(lookup.reason) ?? scriptFailed(lookup.reason);
  const script = lookup.value;
  res.status(200);
  res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  res.setHeader('Cache-Control', noStore);
  res.setHeader('Content-Length', Buffer.byteLength(script));
  res.end(script);
});

/** The spec's 500 for a database or template error. */
function scriptFailed(cause: unknown): ProblemError {
  return Object.assign(new ProblemError('internal-error', 'Failed to generate boot script due to an internal error'), { cause });
}
