import type { Readable } from 'node:stream';
import { SpanKind, SpanStatusCode, type Attributes, type Span, type Tracer } from '@opentelemetry/api';
import type { BlobInfo, BlobRange, BlobStore } from '../storage/blobs';
import type { UploadStorage } from '../uploads/storage';
import type { Telemetry } from './telemetry';

const system = { 'cloud.provider': 'gcp', 'gcp.service': 'storage' };

function failed(span: Span, err: unknown): void {
  span.recordException(err instanceof Error ? err : String(err));
  span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
}

/** `work` inside a client span (the active one while it runs), ended when it settles. */
function inSpan<T>(tracer: Tracer, name: string, attributes: Attributes, work: (span: Span) => Promise<T>): Promise<T> {
  return tracer.startActiveSpan(name, { kind: SpanKind.CLIENT, attributes: { ...system, ...attributes } }, async (span) => {
    try {
      return await work(span);
    } catch (err) {
      failed(span, err);
      throw err;
    } finally {
      span.end();
    }
  });
}

/**
 * The blob store with a span around every Cloud Storage call it makes (read, write, sign,
 * delete, list), the blob id as an attribute. A read or write span lasts as long as its
 * stream. Telemetry without tracing: the store itself, untouched.
 */
export function tracedBlobStore(store: BlobStore, telemetry: Telemetry, bucket?: string): BlobStore {
  if (!telemetry.tracing) return store;
  const { tracer } = telemetry;
  const where = bucket ? { 'gcp.gcs.bucket': bucket } : {};
  return {
    openWrite(id) {
      const span = tracer.startSpan('storage.write', { kind: SpanKind.CLIENT, attributes: { ...system, ...where, 'netboot.blob_id': id } });
      const opened = store.openWrite(id);
      opened.done.then(
        () => span.end(),
        (err: unknown) => {
          failed(span, err);
          span.end();
        },
      );
      return opened;
    },
    delete: (id) => inSpan(tracer, 'storage.delete', { ...where, 'netboot.blob_id': id }, () => store.delete(id)),
    read(id: string, range?: BlobRange): Readable {
      const span = tracer.startSpan('storage.read', {
        kind: SpanKind.CLIENT,
        attributes: { ...system, ...where, 'netboot.blob_id': id, ...(range ? { 'netboot.range.start': range.start, 'netboot.range.end': range.end } : {}) },
      });
      const stream = store.read(id, range);
      let ended = false;
      const end = (err?: unknown) => {
        if (ended) return;
        ended = true;
        if (err) failed(span, err);
        span.end();
      };
      stream.once('error', end);
      stream.once('close', () => end());
      return stream;
    },
    readWhole: (id, onPiece) => inSpan(tracer, 'storage.read', { ...where, 'netboot.blob_id': id }, () => store.readWhole(id, onPiece)),
    signedReadUrl: (id, expiresAt) => inSpan(tracer, 'storage.sign', { ...where, 'netboot.blob_id': id }, () => store.signedReadUrl(id, expiresAt)),
    list(): AsyncIterable<BlobInfo> {
      return {
        [Symbol.asyncIterator]: async function* () {
          const span = tracer.startSpan('storage.list', { kind: SpanKind.CLIENT, attributes: { ...system, ...where } });
          let count = 0;
          try {
            for await (const blob of store.list()) {
              count++;
              yield blob;
            }
          } catch (err) {
            failed(span, err);
            throw err;
          } finally {
            span.setAttribute('netboot.blobs_listed', count);
            span.end();
          }
        },
      };
    },
  };
}

/** The upload sessions' Storage calls in spans; never the session URI (a bearer credential) as an attribute. */
export function tracedUploadStorage(storage: UploadStorage, telemetry: Telemetry): UploadStorage {
  if (!telemetry.tracing) return storage;
  const { tracer } = telemetry;
  return {
    startSession: (blobId, size, origin) => inSpan(tracer, 'storage.start_resumable_session', { 'netboot.blob_id': blobId }, () => storage.startSession(blobId, size, origin)),
    stat: (blobId) => inSpan(tracer, 'storage.stat', { 'netboot.blob_id': blobId }, () => storage.stat(blobId)),
    received: (uri) => inSpan(tracer, 'storage.session_status', {}, () => storage.received(uri)),
    cancel: (uri) => inSpan(tracer, 'storage.cancel_session', {}, () => storage.cancel(uri)),
    compose: (sources, blobId) => inSpan(tracer, 'storage.compose', { 'netboot.blob_id': blobId, 'netboot.sources': sources.length }, () => storage.compose(sources, blobId)),
  };
}
