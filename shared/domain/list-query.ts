import { z } from 'zod';
import { macRejectionReasons, parseMac } from './mac';

const single = z.string({ error: 'must be given once' });

const positiveInt = (max: number) =>
  single.regex(/^\d{1,6}$/, { error: 'must be a whole number' }).transform(Number).pipe(z.number().int().min(1, { error: 'must be at least 1' }).max(max, { error: `must be at most ${max}` }));

/** `GET /api/v1/machines` query: unknown parameters are refused rather than silently ignored. */
export const machineListQuerySchema = z.strictObject({
  page: positiveInt(100000).default(1),
  per_page: positiveInt(100).default(20),
  mac: single
    .transform((value, ctx) => {
      const parsed = parseMac(value);
      if (parsed.ok) return parsed.mac;
      ctx.addIssue({ code: 'custom', message: macRejectionReasons[parsed.reason] });
      return z.NEVER;
    })
    .optional(),
});
