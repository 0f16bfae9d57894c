import { http } from '@google-cloud/functions-framework';
import type { Request, Response } from 'express';
import type { Root } from '../root';
import { installFrameworkErrorBridge } from './framework-errors';
import { serve, type FunctionDefinition, type Handler } from './function';

/** Registers each function with functions-framework, all served from the root `root()` returns. */
export function registerFunctions(definitions: readonly FunctionDefinition[], root: () => Root): void {
  installFrameworkErrorBridge(() => {
    const { config, logger } = root();
    return { typeBase: config.PROBLEM_TYPE_BASE, logger };
  });
  for (const def of definitions) http(def.fn, serve(def, root));
}

/**
 * Registers every name of `modules` with functions-framework, loading nothing: a
 * function's definition (`modules[fn]()`, which requires its module) and the root are
 * made on its first call. `target` (FUNCTION_TARGET, the function this instance serves)
 * is prepared now, before the framework listens: its module and the root (configuration,
 * logger; a bad configuration stops the instance here). What its handler uses from the
 * root (stores, clients, services) is built on the first request that reaches the handler.
 */
export function registerLazily<F extends string>(modules: { readonly [K in F]: () => FunctionDefinition }, root: () => Root, target?: string): void {
  installFrameworkErrorBridge(() => {
    const { config, logger } = root();
    return { typeBase: config.PROBLEM_TYPE_BASE, logger };
  });
  const served = new Map<F, (req: Request, res: Response) => Promise<void>>();
  const handlerOf = (fn: F) => {
    let handler = served.get(fn);
    if (!handler) served.set(fn, (handler = serve(buildOnFirstCall(modules[fn]()), root)));
    return handler;
  };
  for (const fn of Object.keys(modules) as F[]) http(fn, (req, res) => handlerOf(fn)(req, res));
  if (target && Object.hasOwn(modules, target)) {
    handlerOf(target as F);
    root();
  }
}

/**
 * `def`, its handler built (`def.build`: the root parts it uses, and in the built code the
 * modules behind them) by the first request that gets past the request steps; a request
 * refused before (404, 405, 413, 401) needs none of them.
 */
function buildOnFirstCall(def: FunctionDefinition): FunctionDefinition {
  return {
    fn: def.fn,
    build: (root) => {
      let handler: Handler | undefined;
      return (ctx) => (handler ??= def.build(root))(ctx);
    },
  };
}
