import { httpFunction } from '../../shared/http/function';
import { noStore } from '../../shared/http/respond';
import { assertFromBootNetwork } from '../../shared/boot/guard';
import { bootScriptFor } from '../../shared/boot/service';

httpFunction('bootScript', async ({ req, res }) => {
  assertFromBootNetwork(req);
  const script = await bootScriptFor(req.query.mac);
  res.status(200);
  res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  res.setHeader('Cache-Control', noStore);
  res.setHeader('Content-Length', Buffer.byteLength(script));
  res.end(script);
});
