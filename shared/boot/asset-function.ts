import { getConfig } from '../config';
import type { AssetKind } from '../domain/profile';
import type { Handler } from '../http/function';
import { uuidV7Param } from '../http/params';
import { assertFromBootNetwork } from './guard';
import { loadAsset, redirectToAsset, streamAsset } from './assets';

/** The handler behind `/asset/{boot_profile_id}/kernel` and `/initrd`: redirect or proxy, per `ASSET_DELIVERY`. */
export function assetHandler(kind: AssetKind): Handler {
  return async ({ req, res, params, log }) => {
    assertFromBootNetwork(req);
    const profileId = uuidV7Param(params, 'boot_profile_id');
    const blob = await loadAsset(profileId, kind);
    if (getConfig().ASSET_DELIVERY === 'redirect') await redirectToAsset(res, kind, blob);
    else await streamAsset(req, res, kind, profileId, blob, log);
  };
}
