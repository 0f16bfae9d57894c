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
  /** BOOT_REPORT_WINDOW_SECONDS in ms: `booting` is accepted only this long after the script. */
  bootingWindowMs: number;
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
 * the boot record's hash, each phase once per boot, `booting` only within its window (one
 * transaction: 1 read + 1 write). A machine whose netboot was `once` in the round the script
 * was served in becomes `disabled` (one inventory transaction), on either report. Counted only
 * against the caller's own address and the global boot limit: nothing a caller without the
 * token sends counts against the machine.
 */
export class BootReports {
  constructor(private readonly deps: ReportDeps) {}

  async report(req: Request, res: Response, phase: 'booting' | 'installed', clientAddress: string, log: Logger): Promise<{ disabled: boolean }> {
    const token = reportToken(req);
    const { timeline, machineChanges, limiter, dbTimeoutMs } = this.deps;
    await limiter.enforceBootSource(res, clientAddress, log);
    const at = new Date(this.deps.clock());
    const record = await withDeadline(timeline.accept(token, phase, { at, client_address: clientAddress }, this.deps.bootingWindowMs), dbTimeoutMs, 'the boot timeline');
    let disabled = false;
    if (record.netboot === 'once') disabled = await withDeadline(machineChanges.finishOnceBoot(token.machineId, record.once_round), dbTimeoutMs, 'the inventory');
    if (disabled) log.info('netboot once: the machine booted its profile and is now disabled', { machine_id: token.machineId, boot_id: token.bootId, phase });
    return { disabled };
  }
}
