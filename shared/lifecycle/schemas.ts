import { z } from 'zod';
import { machineSpecSchema, netbootModes } from '../domain/machine';
import { bootPhases, nocloudFiles } from './timeline';

/* Response (and documentation) schemas of the fleet-lifecycle routes, for the API contract (shared/api/contract.ts). */

const uuidV7 = z.string().regex(/^[\da-f]{8}-[\da-f]{4}-7[\da-f]{3}-[89ab][\da-f]{3}-[\da-f]{12}$/);
const canonicalMac = z.string().regex(/^[\da-f]{2}(?::[\da-f]{2}){5}$/);
const when = z.string().min(1).meta({ description: 'RFC 3339 time' });
const word = z.string().regex(/^[a-z0-9_]{1,16}$/).nullable();

export const discoverySchema = z.strictObject({
  mac: canonicalMac,
  first_seen: when,
  last_seen: when,
  requests: z.number().int().min(1).meta({ description: 'Sightings recorded (coalesced per instance; see README, Discovery)' }),
  client_address: z.string(),
  arch: word.meta({ description: "iPXE's ${buildarch}, when the chain line sent it" }),
  platform: word.meta({ description: "iPXE's ${platform}, when the chain line sent it" }),
  expire_at: when.meta({ description: 'When the record expires unless the MAC is seen again' }),
});

export const discoveryListSchema = z.strictObject({
  discoveries: z.array(discoverySchema).max(100),
  pagination: z.strictObject({ total: z.number().int().min(0), page: z.number().int().min(1), per_page: z.number().int().min(1).max(100), total_pages: z.number().int().min(0) }),
});

const phaseSchema = z.looseObject({ phase: z.enum(bootPhases), at: when, client_address: z.string() });

export const bootSchema = z.strictObject({
  id: uuidV7,
  mac: canonicalMac,
  action: z.enum(['profile', 'local']),
  profile_id: uuidV7.nullable(),
  netboot: z.enum(netbootModes),
  started_at: when.nullable(),
  phases: z.array(phaseSchema),
  metadata_fetches: z
    .array(z.strictObject({ file: z.enum(nocloudFiles), count: z.number().int().min(1), last_at: when, client_address: z.string() }))
    .meta({ description: "Fetches of the boot's {{metadata_url}} (NoCloud), per file: how many, the last" }),
});

export const bootListSchema = z.strictObject({ machine_id: uuidV7, boots: z.array(bootSchema).max(10) });

export const installedSchema = z.strictObject({ recorded: z.literal('installed'), netboot_disabled: z.boolean() });

/** A merge patch of a machine, documented as the machine's members, each optional (null removes a member: its default applies). */
export const machinePatchSchema = machineSpecSchema.partial();
