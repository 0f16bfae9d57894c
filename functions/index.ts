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
import { telemetryFromEnvironment, type Telemetry } from '../shared/telemetry';
import { definitions } from './definitions';

function productionRoot(): Root {
  try {
    const config = loadConfig(process.env);
    // From the OTEL_* variables; nothing configured: the no-op API, no SDK loaded.
    return createRoot(config, { telemetry: telemetryFromEnvironment(process.env) });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`netboot: ${err.message}\n`);
    process.exit(1);
  }
}

/** At most this long for the last export: Cloud Run sends SIGTERM about 10 s before it stops the instance. */
const flushBudgetMs = 5000;

/**
 * Buffered spans and metrics go out before the instance stops. Cloud Run sends SIGTERM
 * (then SIGKILL ~10 s later) when it scales an instance in; functions-framework's own
 * SIGTERM handler calls process.exit() straight away, so that exit waits for the flush
 * (at most flushBudgetMs). Between requests the instance's CPU is throttled, so a batch
 * waiting for its timer may sit until the next request or this flush: Terraform sets a
 * short OTEL_BSP_SCHEDULE_DELAY (README, Observability).
 */
function flushOnShutdown(telemetry: Telemetry): void {
  if (!telemetry.tracing && !telemetry.metering) return;
  process.once('SIGTERM', () => {
    const exit = process.exit.bind(process);
    const flushed = Promise.race([telemetry.shutdown(), new Promise((resolve) => setTimeout(resolve, flushBudgetMs).unref())]);
    process.exit = ((code?: number) => {
      void flushed.finally(() => exit(code));
    }) as typeof process.exit;
  });
}

const root = productionRoot();
flushOnShutdown(root.telemetry);
registerFunctions(definitions, () => root);
