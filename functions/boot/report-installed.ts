import { defineFunction } from '../../shared/http/function';
import { sendJson } from '../../shared/http/respond';

/**
 * The installed OS's callback: `POST /boot/installed?token=...` with the token the kernel line
 * carried (`netboot.token=...` in /proc/cmdline). No body needed.
 */
export const bootInstalled = defineFunction('bootInstalled', ({ bootNetwork, bootReports }) => async ({ req, res, log }) => {
  bootNetwork.assertAllowed(req);
  const { disabled } = await bootReports.report(req, res, 'installed', bootNetwork.clientAddress(req), log);
  sendJson(res, 200, { recorded: 'installed', netboot_disabled: disabled });
});
