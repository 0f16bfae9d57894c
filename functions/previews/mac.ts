import { bootMac } from '../../shared/boot/service';
import { previewClient } from '../../shared/boot/preview';
import { defineFunction } from '../../shared/http/function';
import { sendScript } from './send';

/** What `/boot.ipxe?mac=` answers this MAC now, recording nothing and spending no boot limit. */
export const bootScriptPreview = defineFunction('bootScriptPreview', ({ bootScripts }) => async ({ req, res, log }) => {
  const mac = bootMac(req.query.mac);
  const client = previewClient(req);
  const pending = await bootScripts.lookup(mac, true);
  sendScript(res, await pending.script(client, log));
});
