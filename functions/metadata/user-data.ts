import { userDataMediaTypes } from '../../shared/fleet/user-data';
import { defineFunction } from '../../shared/http/function';
import { noStore } from '../../shared/http/respond';

/** GET /metadata/{mac}/user-data: the profile's cloud-init user-data, byte for byte, typed by its format. */
export const metadataUserData = defineFunction('metadataUserData', ({ metadata }) => async ({ req, res, params, log }) => {
  const userData = await metadata.userData(req, res, params.mac, log);
  const body = Buffer.from(userData.text, 'utf8');
  res.status(200);
  res.setHeader('Content-Type', userDataMediaTypes[userData.format]);
  res.setHeader('Cache-Control', noStore);
  res.setHeader('Content-Length', body.length);
  res.end(body);
});
