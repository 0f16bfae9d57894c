import { defineFunction } from '../../shared/http/function';

/** GET / HEAD /ipxe/{file}: open like the other boot routes (boot network only, no auth). */
export const ipxeBinary = defineFunction('ipxeBinary', ({ bootNetwork, ipxe }) => async ({ req, res, params, log }) => {
  bootNetwork.assertAllowed(req);
  await ipxe.serve(req, res, params.file ?? '', log);
});
