import { z } from 'zod';

/**
 * The iPXE binaries `netboot ipxe build` makes and `GET /ipxe/{file}` serves: one name per
 * client kind (BIOS PXE; x86_64 UEFI with iPXE's drivers or the firmware's; arm64 UEFI).
 */
export const ipxeFiles = ['undionly.kpxe', 'ipxe-x86_64.efi', 'snponly-x86_64.efi', 'snponly-arm64.efi'] as const;
export type IpxeFile = (typeof ipxeFiles)[number];

export const isIpxeFile = (name: string): name is IpxeFile => (ipxeFiles as readonly string[]).includes(name);

/** iPXE binaries are about 1 MB; anything near this is not one. */
export const ipxeMaxBytes = 16 * 1024 * 1024;

const digestSchema = z.strictObject(
  {
    size: z.number({ error: 'must be an integer' }).int({ error: 'must be an integer' }).positive({ error: 'must be a positive integer' }).max(ipxeMaxBytes, { error: `must be at most ${ipxeMaxBytes} bytes (an iPXE binary is about 1 MB)` }),
    sha256: z
      .string({ error: 'must be a string' })
      .regex(/^[0-9a-fA-F]{64}$/, { error: 'must be 64 hexadecimal digits (SHA-256)' })
      .transform((v) => v.toLowerCase()),
  },
  { error: 'must be an object with size and sha256' },
);

/** POST /api/v1/ipxe/uploads: size and SHA-256 of each binary to publish (any of the four, at least one). */
export const ipxeUploadRequestSchema = z.strictObject(
  {
    files: z
      .strictObject(Object.fromEntries(ipxeFiles.map((f) => [f, digestSchema.optional()])) as Record<IpxeFile, z.ZodOptional<typeof digestSchema>>, { error: `must be an object whose members are among ${ipxeFiles.join(', ')}` })
      .refine((files) => Object.values(files).some((v) => v !== undefined), { error: 'must name at least one binary' }),
  },
  { error: 'must be a JSON object' },
);

/** A published binary as the API shows it. */
export const ipxeBinarySchema = z.strictObject({
  file: z.enum(ipxeFiles),
  size: z.number().int().positive(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  published_at: z.string().meta({ format: 'date-time' }),
  url_path: z.string().meta({ description: 'Where machines fetch it: GET /ipxe/{file} on the boot front door' }),
});
export type IpxeBinary = z.infer<typeof ipxeBinarySchema>;

export const ipxeListSchema = z.strictObject({ binaries: z.array(ipxeBinarySchema) });

const uploadTarget = z.strictObject({ url: z.string(), method: z.literal('PUT'), chunk_multiple: z.number().int() });

export const ipxeUploadSessionSchema = z.strictObject({
  id: z.string(),
  state: z.enum(['open', 'finalized', 'expired', 'cancelled']),
  created_at: z.string().meta({ format: 'date-time' }),
  expires_at: z.string().meta({ format: 'date-time' }),
  files: z
    .partialRecord(z.enum(ipxeFiles), z.strictObject({ size: z.number().int(), sha256: z.string(), upload: uploadTarget.nullable().meta({ description: 'Where to PUT the bytes (a resumable Storage session); null when the service already holds this content' }) }))
    .meta({ description: 'Per binary the session declared' }),
  binaries: z.array(ipxeBinarySchema).optional().meta({ description: 'What the finalize published' }),
});
export type IpxeUploadSessionView = z.infer<typeof ipxeUploadSessionSchema>;
