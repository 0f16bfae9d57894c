import { httpFunction } from '../../shared/http/function';
import { noStore } from '../../shared/http/respond';
import { assertFromBootNetwork } from '../../shared/boot/guard';
import { bootMac, bootScriptForMac } from '../../shared/boot/service';
import { enforceBootScriptLimit } from '../../shared/ratelimit';

httpFunction('bootScript', async ({ req, res, log }) => {
  assertFromBootNetwork(req);
  const mac = bootMac(req.query.mac);
  // Counted per MAC whether or not a machine has it (an unknown MAC's 404 counts too).
  // The count and the lookup are independent round trips: run them side by side, and
  // let a refusal win over whatever the lookup found.
  const [limit, lookup] = await Promise.allSettled([enforceBootScriptLimit(res, mac, log), bootScriptForMac(mac)]);
  if (limit.status === 'rejected') throw limit.reason;
  if (lookup.status === 'rejected') throw lookup.reason;
  const script = lookup.value;
  res.status(200);
  res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  res.setHeader('Cache-Control', noStore);
  res.setHeader('Content-Length', Buffer.byteLength(script));
  res.end(script);
});
