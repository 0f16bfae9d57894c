/**
 * The production entry module: loading it registers every function with
 * functions-framework (deploy one with `--target=<name>`, the route table's `fn`), all
 * served from one composition root built from the environment at start-up. A
 * configuration the service cannot run with stops the instance with one line naming the
 * variable.
 */
import { ConfigError, loadConfig } from '../shared/config';
import { registerFunctions } from '../shared/http/register';
import { createRoot, type Root } from '../shared/root';
import { definitions } from './definitions';

function productionRoot(): Root {
  try {
    return createRoot(loadConfig(process.env));
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`netboot: ${err.message}\n`);
    process.exit(1);
  }
}

const root = productionRoot();
registerFunctions(definitions, () => root);
