import { defineFunction } from '../../shared/http/function';
import { noStore } from '../../shared/http/respond';
import { validationError } from '../../shared/http/problem';

/**
 * `imgfetch --name report /boot/report?token=...&phase=booting` right before `boot`: 200
 * with a tiny text body (iPXE takes any 2xx with a body as an image; the script frees it).
 */
export const bootReport = defineFunction('bootReport', ({ bootNetwork, bootReports, telemetry }) => async ({ req, res, log }) => {
  telemetry.meters.bootReportAnswered(res, 'booting');
  bootNetwork.assertAllowed(req);
  if (req.query.phase !== 'booting') throw validationError([{ field: 'phase', reason: 'must be booting' }], 'Query parameter phase is not valid');
  await bootReports.report(req, res, 'booting', bootNetwork.clientAddress(req), log);
  const body = 'ok\n';
  res.status(200);
  res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  res.setHeader('Cache-Control', noStore);
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.end(body);
});
