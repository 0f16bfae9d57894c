import { httpFunction } from '../../shared/http/function';
import { noStore } from '../../shared/http/respond';
import { assertFromBootNetwork } from '../../shared/boot/guard';
import { bootMac, bootScriptForMac } from '../../shared/boot/service';
import { enforceBootScriptLimit } from '../../shared/ratelimit';

httpFunction('bootScript', async ({ req, res, log }) => {
  assertFromBootNetwork(req);
  const mac = bootMac(req.query.mac);
  // Counted per MAC whether or not a machine has it (an unknown MAC's 404 counts too).
  await enforceBootScriptLimit(res, mac, log);
  const script = await bootScriptForMac(mac);
  res.status(200);
  res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  res.setHeader('Cache-Control', noStore);
  res.setHeader('Content-Length', Buffer.byteLength(script));
  res.end(script);
});
