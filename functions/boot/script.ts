import { bootMac } from '../../shared/boot/service';
import { defineFunction } from '../../shared/http/function';
import { asProblem, ProblemError } from '../../shared/http/problem';
import { noStore } from '../../shared/http/respond';
import { baseUrlOf } from '../../shared/fleet/base-url';
import { clientParams } from '../../shared/lifecycle/client-params';

export const bootScript = defineFunction('bootScript', ({ bootNetwork, bootScripts, limiter, telemetry }) => async ({ req, res, log }) => {
  telemetry.meters.bootScriptAnswered(res);
  bootNetwork.assertAllowed(req);
  const mac = bootMac(req.query.mac);
  const client = { clientAddress: bootNetwork.clientAddress(req), ...clientParams(req.query), baseUrl: baseUrlOf(req) };
  // Counted per MAC and client address whether or not a machine has it (an unknown MAC's 404 counts too).
  // The count and the lookup are independent round trips: run them side by side, and
  // let a refusal win over whatever the lookup found.
  const [limit, lookup] = await Promise.allSettled([limiter.enforceBootScript(res, mac, client.clientAddress, log), bootScripts.lookup(mac)]);
  if (limit.status === 'rejected') throw limit.reason;
  if (lookup.status === 'rejected') throw asProblem(lookup.reason) ?? scriptFailed(lookup.reason);
  // Written only now that the rate limit passed: the boot record, or an unknown MAC's discovery.
  const script = await lookup.value.script(client, log).catch((err: unknown) => {
    throw asProblem(err) ?? scriptFailed(err);
  });
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
