import type { UserData } from '../fleet/user-data';
import type { AssetKind, BlobRef, BootProfile } from './profile';

/**
 * The kernel and initrd a profile had before a replace, kept downloadable under their
 * versioned URLs until `retainedUntil`: a machine that fetched its script before the
 * replace boots the complete old version, never the new kernel with the old arguments.
 */
export interface RetainedVersion {
  kernel: BlobRef;
  initrd: BlobRef;
  retainedUntil: Date;
}

/** A profile as the boot path sees it: the current version and the ones still retained. */
export interface ProfileRecord {
  profile: BootProfile;
  retained: RetainedVersion[];
  /** The current version's cloud-init user-data, when it has some. */
  userData?: UserData;
}

/**
 * The blob an asset URL names. `version` is the blob id of the script's versioned URL
 * (`?v=`): served while it is the profile's current blob of that kind or a retained one;
 * without a version, the current blob.
 */
export function blobForAsset(record: ProfileRecord, kind: AssetKind, version: string | undefined, now: Date): BlobRef | undefined {
  const current = record.profile[kind];
  if (version === undefined || version === current.id) return current;
  return record.retained.find((v) => v[kind].id === version && v.retainedUntil.getTime() > now.getTime())?.[kind];
}

/** Every blob id a profile still needs at `now`: its current blobs and those of unexpired retained versions. */
export function blobIdsInUse(record: ProfileRecord, now: Date): string[] {
  const live = record.retained.filter((v) => v.retainedUntil.getTime() > now.getTime());
  return [record.profile.kernel.id, record.profile.initrd.id, ...live.flatMap((v) => [v.kernel.id, v.initrd.id])];
}
