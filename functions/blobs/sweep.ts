import { getConfig } from '../../shared/config';
import { httpFunction } from '../../shared/http/function';
import { sendJson } from '../../shared/http/respond';
import { sweepOrphanBlobs } from '../../shared/profiles/sweep';
import { blobStore, profileRepository } from '../../shared/repositories';

/** POST /internal/blobs/sweep (Cloud Scheduler): deletes orphaned blobs past the grace period. */
httpFunction('blobsSweep', async ({ res, log }) => {
  const result = await sweepOrphanBlobs({
    store: blobStore(),
    profiles: profileRepository(),
    graceMs: getConfig().BLOB_SWEEP_GRACE_SECONDS * 1000,
    now: new Date(),
    log,
  });
  res.setHeader('Cache-Control', 'no-store');
  sendJson(res, 200, result);
});
