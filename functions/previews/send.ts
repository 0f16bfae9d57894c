import type { Response } from 'express';
import { noStore } from '../../shared/http/respond';

/** A preview is answered like the script itself: text, never cached. */
export function sendScript(res: Response, script: string): void {
  res.status(200);
  res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  res.setHeader('Cache-Control', noStore);
  res.setHeader('Content-Length', Buffer.byteLength(script));
  res.end(script);
}
