import { http } from '@google-cloud/functions-framework';
import type { Root } from '../root';
import { installFrameworkErrorBridge } from './framework-errors';
import { serve, type FunctionDefinition } from './function';

/** Registers each function with functions-framework, all served from the root `root()` returns. */
export function registerFunctions(definitions: readonly FunctionDefinition[], root: () => Root): void {
  installFrameworkErrorBridge(() => {
    const { config, logger } = root();
    return { typeBase: config.PROBLEM_TYPE_BASE, logger };
  });
  for (const def of definitions) http(def.fn, serve(def, root));
}
