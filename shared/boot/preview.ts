import type { Request } from 'express';
import { baseUrlOf, validHost } from '../fleet/base-url';
import { clientParams } from '../lifecycle/client-params';
import { formatBootRef, formatBootToken, type BootToken } from '../lifecycle/tokens';
import { validationError } from '../http/problem';
import type { BootClient } from './service';

/**
 * An administrator's preview of `/boot.ipxe` (GET /api/v1/boot-script, GET
 * /api/v1/machines/{id}/boot-script): rendered by the same code as the boot, but it records
 * nothing (no boot record, no discovery) and spends no boot rate limit. Where a boot's script
 * carries its per-boot token (`netboot.token=...`, the report URL, the assets' `boot=`), the
 * preview carries this placeholder of the same shape: its boot id is the all-zero UUIDv7 and
 * its secret says what it is, so no boot record ever matches it. Everything else is byte for
 * byte what the machine gets (test/boot-script-preview.test.ts).
 */
export const previewBootId = '00000000-0000-7000-8000-000000000000';
export const previewSecret = 'preview-only-not-a-boot-token'.padEnd(43, '0');

export function previewBootToken(machineId: string): BootToken {
  return { machineId, bootId: previewBootId, secret: previewSecret };
}

/** The placeholder's two spellings in a script: the token, and the assets' `boot=` reference. */
export function previewTokenStrings(machineId: string): { token: string; ref: string } {
  const token = previewBootToken(machineId);
  return { token: formatBootToken(token), ref: formatBootRef(token) };
}

/**
 * The client a preview renders for: `arch` and `platform` as iPXE would send them, and
 * `{{base_url}}` from `base_url` (the boot host the machines chain from, when it is not the
 * host the administrator called: in production the admin API and the boot front door differ),
 * else this request's own scheme and host.
 */
export function previewClient(req: Request): BootClient {
  return { clientAddress: '', ...clientParams(req.query), baseUrl: previewBaseUrl(req) };
}

function previewBaseUrl(req: Request): string | undefined {
  const raw = req.query.base_url;
  if (raw === undefined || raw === '') return baseUrlOf(req);
  const m = typeof raw === 'string' ? /^(https?):\/\/([^/?#]+)$/.exec(raw) : null;
  const host = m ? validHost(m[2]) : undefined;
  if (!m || !host) throw validationError([{ field: 'base_url', reason: 'must be http:// or https:// and a host (and port), nothing after it' }], 'Query parameter base_url is not valid');
  return `${m[1]}://${host}`;
}
