import type { Request, Response } from 'express';
import type { MachineChanges } from '../inventory/inventory';
import { validationError } from '../http/problem';
import type { Logger } from '../logging';
import type { RateLimiter } from '../ratelimit';
import { withDeadline } from './deadline';
import type { BootTimeline } from './timeline';
import { parseBootToken, type BootToken } from './tokens';

export interface ReportDeps {
  timeline: BootTimeline;
  machineChanges: MachineChanges;
  limiter: RateLimiter;
  /** Reports per minute per machine (RATE_LIMIT_BOOT_PER_MAC's value, its own counters). */
  perMinute: number;
  dbTimeoutMs: number;
  clock: () => number;
}

/** The `token` query parameter of a report or callback; 400 when malformed. */
export function reportToken(req: Request): BootToken {
  const token = parseBootToken(req.query.token);
  if (!token) throw validationError([{ field: 'token', reason: 'must be the boot token the script or the kernel line carried (machine id.boot id.secret)' }], 'Query parameter token is not a boot token');
  return token;
}

/**
 * The script's `booting` report and the installed OS's callback: the token's secret must match
 * the boot record's hash (1 read), then the phase is written (1 write). A machine whose netboot
 * was `once` when the script was served becomes `disabled` (one inventory transaction), on
 * either report. Limited per machine like boot scripts per MAC.
 */
export class BootReports {
  constructor(private readonly deps: ReportDeps) {}

  async report(req: Request, res: Response, phase: 'booting' | 'installed', clientAddress: string, log: Logger): Promise<{ disabled: boolean }> {
    const token = reportToken(req);
    const { timeline, machineChanges, limiter, dbTimeoutMs } = this.deps;
    await limiter.enforce(res, [{ scope: 'boot-mac', key: `report:${token.machineId}`, limit: this.deps.perMinute }], log);
    const record = await withDeadline(timeline.verify(token), dbTimeoutMs, 'the boot timeline');
    await withDeadline(timeline.record(token, phase, { at: new Date(this.deps.clock()), client_address: clientAddress }), dbTimeoutMs, 'the boot timeline');
    let disabled = false;
    if (record.netboot === 'once') disabled = await withDeadline(machineChanges.finishOnceBoot(token.machineId), dbTimeoutMs, 'the inventory');
    if (disabled) log.info('netboot once: the machine booted its profile and is now disabled', { machine_id: token.machineId, boot_id: token.bootId, phase });
    return { disabled };
  }
}
