import { http } from '@google-cloud/functions-framework';
import type { Request, Response } from 'express';
import { authenticateAdmin, type Principal } from '../auth/verify';
import { getConfig } from '../config';
import { parseTraceHeaders, requestLogger, type Logger } from '../logging';
import { enforceAdminLimits } from '../ratelimit';
import { resolveRoute, routesOf, type FunctionName, type PathParams, type Route } from '../routes';
import { installFrameworkErrorBridge } from './framework-errors';
import { ProblemError, sendProblem } from './problem';
import { payloadTooLarge, unroutedProblem } from './route-problems';
import { requestIdFrom } from './request-id';

export interface RequestContext {
  req: Request;
  res: Response;
  route: Route;
  params: PathParams;
  requestId: string;
  /** The problem `instance`: the request's path and query as the client sent them. */
  instance: string;
  log: Logger;
  /** The verified administrator, on admin routes. */
  principal: Principal | undefined;
}

export type Handler = (ctx: RequestContext) => Promise<void>;

installFrameworkErrorBridge();

/**
 * Registers one HTTP function. Deployed alone, a function receives every path, so it
 * answers only its own routes from the route table (404 / 405 otherwise); then it
 * runs the handler and turns whatever it throws into problem+json.
 */
export function httpFunction(fn: FunctionName, handler: Handler): void {
  const own = routesOf(fn);
  http(fn, async (req: Request, res: Response) => {
    const started = process.hrtime.bigint();
    const requestId = requestIdFrom(req.headers['x-request-id']);
    const log = requestLogger(requestId, parseTraceHeaders(req.header('traceparent'), req.header('x-cloud-trace-context')));
    const instance = req.originalUrl.slice(0, 2048);
    res.setHeader('X-Request-Id', requestId);
    if (own[0]?.audience === 'admin') res.setHeader('X-API-Version', 'v1');
    res.on('finish', () => logAccess(log, req, res, started));
    res.on('close', () => {
      if (!res.writableFinished) log.warn('client went away before the response ended', { path: req.path });
    });

    try {
      const match = resolveRoute(req.method, req.path, own);
      if (match.kind !== 'found') throw unroutedProblem(match, req.method, req.path);
      const bodyBytes = (req as Request & { rawBody?: Buffer }).rawBody?.length ?? 0;
      if (bodyBytes > getConfig().MAX_REQUEST_BYTES) throw payloadTooLarge(getConfig().MAX_REQUEST_BYTES);
      const principal = match.route.audience === 'admin' ? await authenticateAdmin(req) : undefined;
      // Per administrator, per client address and in total; 429 past any of them.
      if (principal) await enforceAdminLimits(req, res, principal, log);
      await handler({ req, res, route: match.route, params: match.params, requestId, instance, log, principal });
    } catch (err) {
      if (err instanceof ProblemError) {
        if (err.status >= 500) log.error(err.detail, { problem: err.type, ...(err.cause ? { cause: err.cause instanceof Error ? err.cause.stack : String(err.cause) } : {}) });
        sendProblem(res, err, instance, requestId);
      } else {
        log.error('unhandled error', { err: err instanceof Error ? err.stack : String(err) });
        sendProblem(res, new ProblemError('internal-error', 'The request failed due to an internal error'), instance, requestId);
      }
    }
  });
}

function logAccess(log: Logger, req: Request, res: Response, started: bigint): void {
  if (getConfig().LOG_LEVEL === 'error' || getConfig().LOG_LEVEL === 'warn') return;
  const latencyMs = Number(process.hrtime.bigint() - started) / 1e6;
  log.info(`${req.method} ${req.path} ${res.statusCode}`, {
    httpRequest: {
      requestMethod: req.method,
      requestUrl: req.originalUrl.slice(0, 2048),
      status: res.statusCode,
      userAgent: req.header('user-agent'),
      remoteIp: req.socket.remoteAddress,
      latency: `${(latencyMs / 1000).toFixed(6)}s`,
    },
  });
}
