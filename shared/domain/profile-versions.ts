import type { UserData } from '../fleet/user-data';
import { blobRefsOf, extraArchitectures, type ArchitectureImages, type AssetKind, type BlobRef, type BootProfile, type ImageSet } from './profile';

/**
 * The kernel and initrd a profile had before a replace (every architecture's), kept
 * downloadable under their versioned URLs until `retainedUntil`: a machine that fetched its
 * script before the replace boots the complete old version, never the new kernel with the
 * old arguments.
 */
export interface RetainedVersion {
  kernel: BlobRef;
  initrd: BlobRef;
  architectures?: ArchitectureImages;
  retainedUntil: Date;
}

/** A profile as the boot path sees it: the current version and the ones still retained. */
export interface ProfileRecord {
  profile: BootProfile;
  retained: RetainedVersion[];
  /** The current version's cloud-init user-data, when it has some. */
  userData?: UserData;
  /** The current version's cloud-init vendor-data, when it has some. */
  vendorData?: UserData;
}

/** The `kind` blobs of one version: the default one, then each architecture's. */
function blobsOfKind(version: ImageSet, kind: AssetKind): BlobRef[] {
  return [version[kind], ...extraArchitectures.flatMap((arch) => version.architectures?.[arch]?.[kind] ?? [])];
}

/**
 * The blob an asset URL names. `version` is the blob id of the script's versioned URL
 * (`?v=`), whichever architecture's it is (blob ids are unique): served while it is one of
 * the profile's current blobs of that kind or a retained one; without a version, the
 * current default (x86 family) blob, as the spec's unversioned URL always meant.
 */
export function blobForAsset(record: ProfileRecord, kind: AssetKind, version: string | undefined, now: Date): BlobRef | undefined {
  const current = record.profile[kind];
  if (version === undefined || version === current.id) return current;
  const live = record.retained.filter((v) => v.retainedUntil.getTime() > now.getTime());
  for (const v of [record.profile, ...live]) {
    const found = blobsOfKind(v, kind).find((b) => b.id === version);
    if (found) return found;
  }
  return undefined;
}

/** Every blob id a profile still needs at `now`: every architecture's current blobs and those of unexpired retained versions. */
export function blobIdsInUse(record: ProfileRecord, now: Date): string[] {
  const live = record.retained.filter((v) => v.retainedUntil.getTime() > now.getTime());
  return [record.profile, ...live].flatMap((v) => blobRefsOf(v).map((b) => b.id));
}
