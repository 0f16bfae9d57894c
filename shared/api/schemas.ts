import { userDataSummarySchema } from '../fleet/user-data';
import { z } from 'zod';
import { kernelArgsSchema } from '../domain/kernel-args';
import { anyBootProfileSchema, fileNames } from '../domain/profile';
import { uploadRequestSchema } from '../uploads/service';

/**
 * Response (and documentation-only request) schemas of the contract that are not domain
 * types: upload sessions and the blob sweep. Domain responses (Machine, MachineList,
 * BootProfile) live next to their types in shared/domain/.
 */

const uuidV7 = z.string().regex(/^[\da-f]{8}-[\da-f]{4}-7[\da-f]{3}-[89ab][\da-f]{3}-[\da-f]{12}$/);
const sha256 = z.string().regex(/^[\da-f]{64}$/);

/** POST /api/v1/uploads as documented: the validating schema, with kernel_args (checked apart, 422) spelled out. */
export const uploadRequestBodySchema = uploadRequestSchema.extend({ kernel_args: kernelArgsSchema.optional() });

const partsTargetSchema = z
  .strictObject({
    transfer: z.literal('parts'),
    method: z.literal('PUT'),
    part_size: z.number().int().min(1).meta({ description: 'Every part but the last has this many bytes' }),
    parts: z.array(
      z.strictObject({
        number: z.number().int().min(1),
        offset: z.number().int().min(0).meta({ description: "The part's first byte in the file" }),
        size: z.number().int().min(1),
        blob_id: uuidV7.meta({ description: 'The object the part is written to (composed into the file at finalize, then deleted)' }),
        url: z.string().meta({ description: "A GCS resumable upload session URI for exactly this part's bytes: a bearer credential for one object" }),
      }),
    ),
  })
  .meta({ description: 'transfer parts: PUT each part to its url (any order, several at once), POST .../verify after each; finalize composes them' });

export const uploadFileSchema = z.strictObject({
  blob_id: uuidV7,
  size: z.number().int().min(1),
  sha256: sha256.nullable().meta({ description: 'null: a file sent in parts whose SHA-256 was not declared at open (finalize may declare it)' }),
  upload: z
    .union([
      z.strictObject({
        url: z.string().meta({ description: 'A GCS resumable upload session URI: a bearer credential for one object' }),
        method: z.literal('PUT'),
        chunk_multiple: z.number().int().min(1).meta({ description: 'Every chunk but the last must be a multiple of this many bytes' }),
      }),
      partsTargetSchema,
    ])
    .nullable()
    .meta({ description: 'null: the service already holds these bytes (nothing to send)' }),
  verified_bytes: z.number().int().min(0).optional().meta({ description: 'Files sent in parts: how many leading bytes the service has hashed (POST .../verify)' }),
});

/** An upload session as the API answers it (shared/uploads/service.ts's UploadSessionView). */
export const uploadSessionSchema = z.strictObject({
  id: uuidV7,
  machine_id: z.union([uuidV7, z.literal('default')]).meta({ description: 'The machine, or "default" (the default profile)' }),
  mode: z.enum(['create', 'replace']),
  state: z.enum(['open', 'finalized', 'expired', 'cancelled']),
  kernel_args: z.array(z.string()),
  user_data: userDataSummarySchema.optional().meta({ description: 'The cloud-init user-data the profile will carry (format, size, SHA-256)' }),
  vendor_data: userDataSummarySchema.optional().meta({ description: 'The cloud-init vendor-data the profile will carry' }),
  created_at: z.string().meta({ format: 'date-time' }),
  expires_at: z.string().meta({ format: 'date-time' }),
  files: z
    .strictObject({ kernel: uploadFileSchema, initrd: uploadFileSchema, ...Object.fromEntries(fileNames.filter((name) => name.includes('.')).map((name) => [name, uploadFileSchema.optional()])) })
    .meta({ description: 'Per file: kernel, initrd, and each architecture\'s kernel.<arch> / initrd.<arch> the session declared' }),
  profile: anyBootProfileSchema.optional().meta({ description: 'The committed profile, once finalized' }),
});

/** POST /internal/blobs/sweep (shared/profiles/sweep.ts's SweepResult). */
export const sweepResultSchema = z.strictObject({
  scanned: z.number().int().min(0),
  deleted: z.array(uuidV7),
  kept: z.number().int().min(0),
  young: z.number().int().min(0),
});
