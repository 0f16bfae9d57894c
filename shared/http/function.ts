import type { Request, Response } from 'express';
import type { Principal } from '../auth/verify';
import { parseTraceHeaders, redactUrl, requestLogger, withSpan, type Logger } from '../logging';
import type { Root } from '../root';
import { traceRequest } from '../telemetry/http';
import { resolveRoute, routesOf, type FunctionName, type PathParams, type Route } from '../routes';
import { asProblem, ProblemError, sendProblem } from './problem';
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

/** One HTTP function: its name in the route table, and how to build its handler from the composition root. */
export interface FunctionDefinition {
  fn: FunctionName;
  build(root: Root): Handler;
}

export function defineFunction(fn: FunctionName, build: (root: Root) => Handler): FunctionDefinition {
  return { fn, build };
}

/** A request on its way through the steps; each step fills in what the next ones need. */
interface Exchange {
  req: Request;
  res: Response;
  root: Root;
  own: readonly Route[];
  requestId: string;
  instance: string;
  log: Logger;
  route?: Route;
  params?: PathParams;
  principal?: Principal;
}

type Step = (x: Exchange, next: () => Promise<void>) => Promise<void>;

/** Request id and logger for every line of this request; the id is echoed to the client. */
const identify: Step = (x, next) => {
  const { req, res, root, own } = x;
  x.requestId = requestIdFrom(req.headers['x-request-id']);
  x.log = requestLogger(root.logger, root.config.GOOGLE_CLOUD_PROJECT, x.requestId, parseTraceHeaders(req.header('traceparent'), req.header('x-cloud-trace-context')));
  res.setHeader('X-Request-Id', x.requestId);
  if (own[0]?.audience === 'admin') res.setHeader('X-API-Version', 'v1');
  return next();
};

/**
 * Telemetry on: one server span per request, continuing the caller's trace, active for the
 * rest of the chain (Firestore and Storage spans are its children; log lines carry its ids),
 * and the http.server.* metrics. Telemetry off: nothing at all.
 */
const trace: Step = (x, next) => {
  const { telemetry, config } = x.root;
  if (!telemetry.tracing && !telemetry.metering) return next();
  return traceRequest(
    telemetry,
    {
      req: x.req,
      res: x.res,
      route: () => x.route?.path,
      params: () => x.params,
      onSpan: (ids) => (x.log = withSpan(x.log, config.GOOGLE_CLOUD_PROJECT, ids)),
    },
    next,
  );
};

/** One access line per request (LOG_LEVEL info), and a warning when the client leaves early. */
const logAccess: Step = ({ req, res, root, log }, next) => {
  const started = process.hrtime.bigint();
  if (root.config.LOG_LEVEL === 'info' || root.config.LOG_LEVEL === 'debug') {
    res.on('finish', () => {
      const latencyMs = Number(process.hrtime.bigint() - started) / 1e6;
      log.info(`${req.method} ${redactUrl(req.path)} ${res.statusCode}`, {
        httpRequest: {
          requestMethod: req.method,
          // Tokens, metadata keys and signatures never reach the log (issue 21).
          requestUrl: redactUrl(req.originalUrl.slice(0, 2048)),
          status: res.statusCode,
          userAgent: req.header('user-agent'),
          remoteIp: req.socket.remoteAddress,
          latency: `${(latencyMs / 1000).toFixed(6)}s`,
        },
      });
    });
  }
  res.on('close', () => {
    if (!res.writableFinished) log.warn('client went away before the response ended', { path: redactUrl(req.path) });
  });
  return next();
};

/** Whatever a later step throws becomes problem+json; an unexpected error, a bare 500 with the details in the log only. */
const answerProblems: Step = async ({ res, root, log, instance, requestId }, next) => {
  try {
    await next();
  } catch (err) {
    let problem = asProblem(err);
    if (!problem) {
      log.error('unhandled error', { err: err instanceof Error ? err.stack : String(err) });
      problem = new ProblemError('internal-error', 'The request failed due to an internal error');
    } else if (problem.status >= 500) {
      const cause = (err as { cause?: unknown }).cause;
      log.error(problem.detail, { problem: problem.type, ...(cause ? { cause: cause instanceof Error ? cause.stack : String(cause) } : {}) });
    }
    sendProblem(res, problem, instance, requestId, root.config.PROBLEM_TYPE_BASE);
  }
};

/** Deployed alone, a function receives every path: it answers only its own routes (404 / 405 otherwise). */
const routeToOwn: Step = (x, next) => {
  const match = resolveRoute(x.req.method, x.req.path, x.own);
  if (match.kind !== 'found') throw unroutedProblem(match, x.req.method, x.req.path);
  x.route = match.route;
  x.params = match.params;
  return next();
};

/** The platform refuses larger bodies before the function runs; so does the function, whatever sits in front. */
const capBody: Step = ({ req, root }, next) => {
  const max = root.config.MAX_REQUEST_BYTES;
  if (((req as Request & { rawBody?: Buffer }).rawBody?.length ?? 0) > max) throw payloadTooLarge(max);
  return next();
};

/** Admin routes: a verified administrator (401 / 403). */
const authenticate: Step = (x, next) => {
  if (x.route?.audience !== 'admin') return next();
  return x.root.admins.authenticate(x.req).then((principal) => {
    x.principal = principal;
    return next();
  });
};

/** Admin routes: per administrator, per client address and in total; 429 past any of them. */
const limitAdministrators: Step = ({ req, res, root, principal, log }, next) => {
  if (!principal) return next();
  return root.limiter.enforceAdmin(res, principal.email, root.bootNetwork.clientAddress(req), log).then(next);
};

/**
 * The wrapper every function runs in, in order. Steps with nothing to wait for hand over
 * with `return next()` rather than `await`: under functions-framework's per-request domain
 * every promise costs async-hook work (bench/boot-path.ts profiles).
 */
const steps: readonly Step[] = [identify, trace, logAccess, answerProblems, routeToOwn, capBody, authenticate, limitAdministrators];

const built = new WeakMap<Root, Map<FunctionName, Handler>>();

function handlerOf(def: FunctionDefinition, root: Root): Handler {
  let handlers = built.get(root);
  if (!handlers) built.set(root, (handlers = new Map()));
  let handler = handlers.get(def.fn);
  if (!handler) handlers.set(def.fn, (handler = def.build(root)));
  return handler;
}

/** The functions-framework handler of one function, running the steps and then its own handler. */
export function serve(def: FunctionDefinition, root: () => Root): (req: Request, res: Response) => Promise<void> {
  const own = routesOf(def.fn);
  return async (req, res) => {
    const current = root();
    const handler = handlerOf(def, current);
    const x: Exchange = { req, res, root: current, own, requestId: '', instance: req.originalUrl.slice(0, 2048), log: current.logger };
    const run = (i: number): Promise<void> => {
      const step = steps[i];
      if (step) return step(x, () => run(i + 1));
      return handler({ req, res, route: x.route as Route, params: x.params ?? {}, requestId: x.requestId, instance: x.instance, log: x.log, principal: x.principal });
    };
    await run(0);
  };
}
