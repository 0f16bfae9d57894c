import { dirname } from 'node:path';
import type { Application, Request, Response } from 'express';
import type { Logger } from '../logging';
import { ProblemError, sendProblem } from './problem';
import { requestIdFrom } from './request-id';

interface BodyParserError {
  type?: string;
  status?: number;
}

/** Maps the errors body-parser raises inside functions-framework, before any handler runs. */
export function problemForFrameworkError(err: unknown): ProblemError {
  const { type, status } = (err ?? {}) as BodyParserError;
  switch (type) {
    case 'entity.parse.failed':
      return new ProblemError('invalid-json', 'The request body is not valid JSON');
    case 'entity.too.large':
      return new ProblemError('payload-too-large', 'The request body is larger than this service accepts');
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new ProblemError('unsupported-media-type', 'The request body uses an unsupported encoding');
    case 'request.aborted':
      return new ProblemError('validation-error', 'The request body ended early', { invalid_fields: [] });
    default:
      if (status && status >= 400 && status < 500) return new ProblemError('validation-error', 'The request could not be read', { invalid_fields: [] });
      return new ProblemError('internal-error', 'The request failed due to an internal error');
  }
}

type Handle = (this: Application, req: Request, res: Response, callback?: (err?: unknown) => void) => void;

/** What the bridge needs of the service: where problem types live, and where to log. */
export interface BridgeTarget {
  typeBase: string;
  logger: Logger;
}

let target: (() => BridgeTarget) | undefined;

/**
 * functions-framework parses every body before the function runs and has no error
 * hook: a malformed JSON body would get Express's HTML error page. Express copies
 * `application.handle` into each app it creates, so wrapping it before the framework
 * builds its app turns those errors into problem+json too.
 */
export function installFrameworkErrorBridge(current: () => BridgeTarget): void {
  // Express is patched once per process; a later call only points the patch at its service.
  const patched = target !== undefined;
  target = current;
  if (patched) return;
  const frameworkDir = dirname(require.resolve('@google-cloud/functions-framework'));
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const express = require(require.resolve('express', { paths: [frameworkDir] })) as { application: { handle: Handle } };
  const original = express.application.handle;
  express.application.handle = function handle(this: Application, req, res, callback) {
    // The body parser would inflate a compressed body whole before any size check: a few
    // kilobytes of gzip can become gigabytes. No client of this API compresses its uploads.
    const encoding = String(req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
    if (encoding !== 'identity' && encoding !== '') {
      const requestId = requestIdFrom(req.headers['x-request-id']);
      res.setHeader('X-Request-Id', requestId);
      if (req.url?.startsWith('/api/')) res.setHeader('X-API-Version', 'v1');
      sendProblem(res, new ProblemError('unsupported-media-type', 'Compressed request bodies are not accepted (Content-Encoding must be identity)'), req.url ?? '/', requestId, targetNow().typeBase);
      return;
    }
    original.call(this, req, res, callback ?? ((err?: unknown) => {
      const requestId = requestIdFrom(req.headers['x-request-id']);
      res.setHeader('X-Request-Id', requestId);
      if (req.path.startsWith('/api/')) res.setHeader('X-API-Version', 'v1');
      const problem = err ? problemForFrameworkError(err) : new ProblemError('not-found', `No route for ${req.method} ${req.path}`);
      if (problem.status >= 500) targetNow().logger.error('request failed before the function ran', { request_id: requestId, err: String(err) });
      sendProblem(res, problem, req.originalUrl, requestId, targetNow().typeBase);
    }));
  };
}

function targetNow(): BridgeTarget {
  if (!target) throw new Error('the framework error bridge is not installed');
  return target();
}
