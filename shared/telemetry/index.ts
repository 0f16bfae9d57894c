export { noopTelemetry, type Telemetry } from './telemetry';
export { Meters, bootScriptOutcome, type BootScriptOutcome, type HealthProbe, type UploadSessionOutcome } from './meters';
export { exportersFrom, telemetryFromEnvironment, traceExporterNames, metricExporterNames } from './environment';
export { tracedBlobStore, tracedUploadStorage } from './storage';
export { traceRequest, type TracedExchange } from './http';
