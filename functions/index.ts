/**
 * The production entry module: loading it registers every function with
 * functions-framework (deploy one with `--target=<name>`, the route table's `fn`), all
 * served from one composition root built from the environment. A configuration the
 * service cannot run with stops the instance with one line naming the variable.
 *
 * Lazily: loading this module registers every name and loads nothing else. A function's
 * module and the composition root (configuration, checked in full; the logger; telemetry)
 * are made only for the function functions-framework serves (FUNCTION_TARGET: prepared
 * here, before the server listens) or on a function's first call; the root's parts (the
 * Firestore and Storage clients, stores, services) on the first request that uses them,
 * and in the built code (scripts/build.ts) each module's imports on first use. So an
 * instance deployed as `bootScript` never loads the admin, upload, multipart or OpenAPI
 * code, nor Storage (README, "Cold start"; bench/coldstart.ts measures every function).
 */
import type { Root } from '../shared/root';
import type { Telemetry } from '../shared/telemetry';
import type { FunctionDefinition } from '../shared/http/function';
import type { FunctionName } from '../shared/routes';

/* eslint-disable @typescript-eslint/no-require-imports -- on-demand loading is the point of this module */
/**
 * Each function's module, required on demand: the lazy twin of ./definitions (the local
 * gateway's eager list). The type keeps it complete: a new route-table `fn` fails tsc
 * until it has its entry here; test/infra/build.test.ts checks each entry loads its own.
 */
const modules: { readonly [F in FunctionName]: () => FunctionDefinition } = {
  machinesCreate: () => (require('./machines/create') as typeof import('./machines/create')).machinesCreate,
  machinesList: () => (require('./machines/list') as typeof import('./machines/list')).machinesList,
  machinesGet: () => (require('./machines/get') as typeof import('./machines/get')).machinesGet,
  machinesUpdate: () => (require('./machines/update') as typeof import('./machines/update')).machinesUpdate,
  machinesDelete: () => (require('./machines/delete') as typeof import('./machines/delete')).machinesDelete,
  machinesPatch: () => (require('./machines/patch') as typeof import('./machines/patch')).machinesPatch,
  machinesBoots: () => (require('./machines/boots') as typeof import('./machines/boots')).machinesBoots,
  machinesBootScript: () => (require('./previews/machine') as typeof import('./previews/machine')).machinesBootScript,
  bootScriptPreview: () => (require('./previews/mac') as typeof import('./previews/mac')).bootScriptPreview,
  discoveriesList: () => (require('./discoveries/list') as typeof import('./discoveries/list')).discoveriesList,
  profilesCreate: () => (require('./profiles/create') as typeof import('./profiles/create')).profilesCreate,
  profilesGet: () => (require('./profiles/get') as typeof import('./profiles/get')).profilesGet,
  profilesUpdate: () => (require('./profiles/update') as typeof import('./profiles/update')).profilesUpdate,
  profilesDelete: () => (require('./profiles/delete') as typeof import('./profiles/delete')).profilesDelete,
  profilesCloudInit: () => (require('./profiles/cloud-init') as typeof import('./profiles/cloud-init')).profilesCloudInit,
  defaultProfileGet: () => (require('./default-profile/get') as typeof import('./default-profile/get')).defaultProfileGet,
  defaultProfileSet: () => (require('./default-profile/set') as typeof import('./default-profile/set')).defaultProfileSet,
  defaultProfileDelete: () => (require('./default-profile/delete') as typeof import('./default-profile/delete')).defaultProfileDelete,
  uploadsCreate: () => (require('./uploads/create') as typeof import('./uploads/create')).uploadsCreate,
  uploadsGet: () => (require('./uploads/get') as typeof import('./uploads/get')).uploadsGet,
  uploadsFinalize: () => (require('./uploads/finalize') as typeof import('./uploads/finalize')).uploadsFinalize,
  uploadsVerify: () => (require('./uploads/verify') as typeof import('./uploads/verify')).uploadsVerify,
  uploadsCancel: () => (require('./uploads/cancel') as typeof import('./uploads/cancel')).uploadsCancel,
  ipxeList: () => (require('./ipxe/list') as typeof import('./ipxe/list')).ipxeList,
  ipxeUploadsCreate: () => (require('./ipxe/uploads-create') as typeof import('./ipxe/uploads-create')).ipxeUploadsCreate,
  ipxeUploadsFinalize: () => (require('./ipxe/uploads-finalize') as typeof import('./ipxe/uploads-finalize')).ipxeUploadsFinalize,
  ipxeBinary: () => (require('./ipxe/binary') as typeof import('./ipxe/binary')).ipxeBinary,
  bootScript: () => (require('./boot/script') as typeof import('./boot/script')).bootScript,
  assetKernel: () => (require('./boot/kernel') as typeof import('./boot/kernel')).assetKernel,
  assetInitrd: () => (require('./boot/initrd') as typeof import('./boot/initrd')).assetInitrd,
  bootReport: () => (require('./boot/report') as typeof import('./boot/report')).bootReport,
  bootInstalled: () => (require('./boot/report-installed') as typeof import('./boot/report-installed')).bootInstalled,
  metadataUserData: () => (require('./metadata/user-data') as typeof import('./metadata/user-data')).metadataUserData,
  metadataMetaData: () => (require('./metadata/meta-data') as typeof import('./metadata/meta-data')).metadataMetaData,
  metadataVendorData: () => (require('./metadata/vendor-data') as typeof import('./metadata/vendor-data')).metadataVendorData,
  nocloudSeed: () => (require('./metadata/seed') as typeof import('./metadata/seed')).nocloudSeed,
  healthStartup: () => (require('./health/startup') as typeof import('./health/startup')).healthStartup,
  healthLiveness: () => (require('./health/liveness') as typeof import('./health/liveness')).healthLiveness,
  consoleAssets: () => (require('./console/assets') as typeof import('./console/assets')).consoleAssets,
  blobsSweep: () => (require('./blobs/sweep') as typeof import('./blobs/sweep')).blobsSweep,
};

function productionRoot(): Root {
  const { ConfigError, loadConfig } = require('../shared/config') as typeof import('../shared/config');
  const { createRoot } = require('../shared/root') as typeof import('../shared/root');
  const { telemetryFromEnvironment } = require('../shared/telemetry') as typeof import('../shared/telemetry');
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

const { registerLazily } = require('../shared/http/register') as typeof import('../shared/http/register');
/* eslint-enable @typescript-eslint/no-require-imports */

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

let root: Root | undefined;
/** The one composition root of this process, built on first use. */
function theRoot(): Root {
  if (!root) {
    root = productionRoot();
    flushOnShutdown(root.telemetry);
  }
  return root;
}

registerLazily(modules, theRoot, process.env.FUNCTION_TARGET);
