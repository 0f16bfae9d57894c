import { defineFunction } from '../../shared/http/function';
import { sendJson } from '../../shared/http/respond';

export const ipxeList = defineFunction('ipxeList', ({ ipxe }) => async ({ res }) => {
  sendJson(res, 200, { binaries: await ipxe.list() });
});
