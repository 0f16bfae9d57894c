import { parseUuidV7 } from '../../shared/domain/ids';
import type { AssetKind } from '../../shared/domain/profile';
import type { Handler } from '../../shared/http/function';
import { uuidV7Param } from '../../shared/http/params';
import { validationError } from '../../shared/http/problem';
import type { Root } from '../../shared/root';

/** The `v` of a versioned asset URL: the blob id, a UUIDv7; absent for "the current one". */
function versionOf(raw: unknown): string | undefined {
  if (raw === undefined) return undefined;
  const id = typeof raw === 'string' ? parseUuidV7(raw) : null;
  if (!id) throw validationError([{ field: 'v', reason: 'must be a UUIDv7 (the blob id of a versioned asset URL)' }], 'Query parameter v is not a valid UUIDv7');
  return id;
}

/** The handler behind `/asset/{boot_profile_id}/kernel` and `/initrd`. */
export function assetHandler(kind: AssetKind): (root: Root) => Handler {
  return ({ bootNetwork, assets }) =>
    async ({ req, res, params, log }) => {
      bootNetwork.assertAllowed(req);
      const asset = { kind, profileId: uuidV7Param(params, 'boot_profile_id'), version: versionOf(req.query.v) };
      await assets.serve(req, res, asset, log);
    };
}
