import { z } from 'zod';
import { userDataSummarySchema, type UserDataSummary } from '../fleet/user-data';

export interface BlobRef {
  id: string;
  /** Hex SHA-256 of the bytes, computed while they streamed in. */
  sha256: string;
  size: number;
}

/** The spec's BootProfile, plus each blob's digest and size. */
export interface BootProfile {
  id: string;
  machine_id: string;
  kernel: BlobRef & { args: string[] };
  initrd: BlobRef;
  /** cloud-init user-data (shared/fleet/user-data.ts): its format, size and SHA-256; the text is served at /metadata/{mac}/user-data. */
  user_data?: UserDataSummary;
}

export type AssetKind = 'kernel' | 'initrd';

/** `kernel_args` and its limits live with the iPXE kernel-line rules (./kernel-args.ts). */
export { kernelArgLimits, kernelArgsSchema } from './kernel-args';

/* Response schemas (the API contract, shared/api/contract.ts). */

const uuidV7Pattern = /^[\da-f]{8}-[\da-f]{4}-7[\da-f]{3}-[89ab][\da-f]{3}-[\da-f]{12}$/;
const blobRefShape = {
  id: z.string().regex(uuidV7Pattern).meta({ description: 'Blob id: the object blobs/{id} in the bucket' }),
  sha256: z.string().regex(/^[\da-f]{64}$/),
  size: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
};

/** The spec's BootProfile as the API answers it, each blob with its digest and size. */
export const bootProfileSchema = z
  .strictObject({
    id: z.string().regex(uuidV7Pattern),
    machine_id: z.string().regex(uuidV7Pattern),
    kernel: z.strictObject({ ...blobRefShape, args: z.array(z.string()) }),
    initrd: z.strictObject(blobRefShape),
    user_data: userDataSummarySchema.optional(),
  });

/** The default profile (`/api/v1/boot/default/profile`): a BootProfile whose `machine_id` is `default`. */
export const defaultProfileSchema = bootProfileSchema.extend({ machine_id: z.literal('default') });
