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
