import { defineFunction } from '../../shared/http/function';
import { sendJson } from '../../shared/http/respond';
import { sweepOrphanBlobs } from '../../shared/profiles/sweep';

/** POST /internal/blobs/sweep (Cloud Scheduler): cancels the upload sessions of expired sessions, deletes orphaned blobs past the grace period. */
export const blobsSweep = defineFunction('blobsSweep', ({ blobs, inventory, ledger, uploads, config, clock, telemetry }) => async ({ res, log }) => {
  await uploads.cancelExpiredUploads(log);
  const result = await sweepOrphanBlobs({ store: blobs, inventory, ledger, graceMs: config.BLOB_SWEEP_GRACE_SECONDS * 1000, now: new Date(clock()), log, meters: telemetry.meters });
  res.setHeader('Cache-Control', 'no-store');
  sendJson(res, 200, result);
});
