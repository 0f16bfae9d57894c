import { defineFunction } from '../../shared/http/function';
import { uuidV7Param } from '../../shared/http/params';
import { sendJson } from '../../shared/http/respond';

export const ipxeUploadsFinalize = defineFunction('ipxeUploadsFinalize', ({ ipxe }) => async ({ res, params, log }) => {
  sendJson(res, 200, { binaries: await ipxe.finalize(uuidV7Param(params, 'id'), log) });
});
