import { z } from 'zod';
import { macRejectionReasons, parseMac } from './mac';

const int64 = (min: number) =>
  z.number({ error: 'must be an integer' }).int({ error: 'must be an integer' }).min(min, { error: `must be at least ${min}` }).max(Number.MAX_SAFE_INTEGER, { error: 'is too large' });

const label = z.string({ error: 'must be a string' }).trim().min(1, { error: 'must not be empty' }).max(128, { error: 'must be at most 128 characters' });

const macField = z.string({ error: 'must be a string' }).transform((value, ctx) => {
  const parsed = parseMac(value);
  if (parsed.ok) return parsed.mac;
  ctx.addIssue({ code: 'custom', message: macRejectionReasons[parsed.reason] });
  return z.NEVER;
});

const list = <T extends z.ZodType>(item: T, max: number) =>
  z.array(item, { error: 'must be an array' }).max(max, { error: `must have at most ${max} entries` }).default([]);

/**
 * Whether `/boot.ipxe` boots the machine's profile: `enabled` (always), `disabled` (a script
 * that leaves iPXE for the local disk), `once` (the profile until the machine reports that it
 * is booting it, then `disabled`). Machines stored before the field existed read as `enabled`.
 */
export const netbootModes = ['enabled', 'disabled', 'once'] as const;
export type NetbootMode = (typeof netbootModes)[number];
export const netbootSchema = z.enum(netbootModes, { error: `must be one of ${netbootModes.join(', ')}` });

/**
 * A machine's host name (RFC 1123: dot-separated labels of letters, digits and inner hyphens,
 * each 1-63 characters, at most 253 in all). Optional; `{{hostname}}` in kernel arguments and
 * the NoCloud `local-hostname` use it.
 */
export const hostnamePattern = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/i;
export const hostnameSchema = z
  .string({ error: 'must be a string' })
  .regex(hostnamePattern, { error: 'must be an RFC 1123 host name (labels of letters, digits and inner hyphens, 1-63 characters each, at most 253 in all)' });

/** The machine profile a client sends (POST and PUT bodies); unknown members are errors. */
export const machineSpecSchema = z.strictObject(
  {
    cpus: list(z.strictObject({ manufacturer: label, clock_frequency: int64(0), cores: int64(1) }), 64),
    memory_modules: list(z.strictObject({ size: int64(1) }), 256),
    accelerators: list(z.strictObject({ manufacturer: label }), 64),
    nics: z
      .array(z.strictObject({ mac: macField }), { error: 'must be an array' })
      .min(1, { error: 'at least one NIC is required' })
      .max(64, { error: 'must have at most 64 entries' }),
    drives: list(z.strictObject({ capacity: int64(0) }), 256),
    netboot: netbootSchema.default('enabled'),
    hostname: hostnameSchema.optional(),
  },
  { error: (issue) => (issue.code === 'invalid_type' ? 'must be a JSON object' : undefined) },
);

export type MachineSpec = z.infer<typeof machineSpecSchema>;

/** A machine as the API returns it: the spec's `Machine` message. */
export interface Machine extends MachineSpec {
  id: string;
}

export function macsOf(spec: MachineSpec): string[] {
  return spec.nics.map((nic) => nic.mac);
}

/** The first MAC that appears twice in one profile, if any. */
export function repeatedMac(spec: MachineSpec): string | undefined {
  const seen = new Set<string>();
  for (const mac of macsOf(spec)) {
    if (seen.has(mac)) return mac;
    seen.add(mac);
  }
  return undefined;
}

/* Response schemas (the API contract, shared/api/contract.ts): what the service answers, not what it accepts. */

const uuidV7Pattern = /^[\da-f]{8}-[\da-f]{4}-7[\da-f]{3}-[89ab][\da-f]{3}-[\da-f]{12}$/;
const canonicalMac = /^[\da-f]{2}(?::[\da-f]{2}){5}$/;
const count = (min: number) => z.number().int().min(min).max(Number.MAX_SAFE_INTEGER);

/** The spec's `Machine` message as the API answers it (canonical lower-case MACs, every list present). */
export const machineSchema = z
  .strictObject({
    id: z.string().regex(uuidV7Pattern),
    cpus: z.array(z.strictObject({ manufacturer: z.string().min(1).max(128), clock_frequency: count(0), cores: count(1) })).max(64),
    memory_modules: z.array(z.strictObject({ size: count(1) })).max(256),
    accelerators: z.array(z.strictObject({ manufacturer: z.string().min(1).max(128) })).max(64),
    nics: z.array(z.strictObject({ mac: z.string().regex(canonicalMac) })).min(1).max(64),
    drives: z.array(z.strictObject({ capacity: count(0) })).max(256),
    netboot: z.enum(netbootModes),
    hostname: z.string().regex(hostnamePattern).optional(),
  });

/** `GET /api/v1/machines`: one page and where it sits. */
export const machineListSchema = z
  .strictObject({
    machines: z.array(machineSchema).max(100),
    pagination: z.strictObject({ total: count(0), page: count(1), per_page: z.number().int().min(1).max(100), total_pages: count(0) }),
  });

/** `POST /api/v1/machines`: the new machine's id (Location names it too). */
export const machineCreatedSchema = z.strictObject({ id: z.string().regex(uuidV7Pattern) });
