import DataLoader from 'dataloader';
import { outsideRequestDomain } from './request-domain';

/**
 * Calls made in the same turn of the event loop, one database call for all of them: the
 * boot path's reads (one BatchGetDocuments for every MAC asked meanwhile) and writes (one
 * Commit for every counter and boot record). Each caller still gets its own answer or
 * error; nothing is cached between turns (`cache: false`), so a read is never older than
 * the call that asked for it. `setImmediate` closes a batch after the poll phase, i.e. after
 * every request that arrived in this turn has run to its first database call; at one
 * request at a time a batch holds one call and costs one `setImmediate` of latency.
 *
 * A rack powering on is hundreds of boot scripts in a few seconds: batched, they cost a
 * handful of round trips per turn instead of four or five each (the CPU of a Firestore
 * RPC is mostly per call, not per document; bench/boot-path.ts measures it).
 */
export function sameTurnBatches<K, V>(run: (keys: readonly K[]) => Promise<readonly (V | Error)[]>, maxBatchSize = 100): DataLoader<K, V> {
  return new DataLoader<K, V>(run, { cache: false, maxBatchSize, batchScheduleFn: (dispatch) => outsideRequestDomain(() => setImmediate(dispatch)) });
}
