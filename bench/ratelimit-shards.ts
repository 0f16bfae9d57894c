// `npx tsx bench/ratelimit-shards.ts [--hits 200] [--shards 1,34,100,1000,2000,5000]`: what one
// counted request costs on a counter spread over S shards (issue 24: the shard cap,
// RATE_LIMIT_MAX_SHARDS). The production store (shared/ratelimit/firestore-store.ts) against
// the embedded Firestore with its operation counter on: every shard document of the window
// exists first, shard 0 full (a counter at its limit, spread over all its shards), then `--hits` sequential increments, each one Commit
// and one read of the total. Prints reads, writes and RPCs per hit as the emulator bills
// them, and the latency of a hit. The emulator scans the whole collection for a query, so
// its latency says how the emulator grows, not Firestore (which reads the index range).
import { performance } from 'node:perf_hooks';
import { Firestore } from '@google-cloud/firestore';
import { startEmbeddedEmulators } from '../emulators/embedded';
import { firestoreOperations } from '../emulators/firestore/operations';
import { FirestoreRateLimitStore, rateLimitCollections, spillAfter } from '../shared/ratelimit/firestore-store';

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const opt = (name: string, fallback: string) => (argv.includes(name) ? (argv[argv.indexOf(name) + 1] ?? fallback) : fallback);
  const hits = Number(opt('--hits', '200'));
  const shardCounts = opt('--shards', '1,34,100,1000,2000,5000').split(',').map(Number);

  firestoreOperations.enable();
  const emulators = await startEmbeddedEmulators({ firestorePort: 0, storagePort: 0 });
  process.env.FIRESTORE_EMULATOR_HOST = emulators.firestoreHost;
  const db = new Firestore({ projectId: 'demo-netboot', databaseId: 'rate-limits' });
  const store = new FirestoreRateLimitStore(db);
  const expireAt = new Date(Date.now() + 120_000);
  const rows: string[] = ['| shards | reads / hit | writes / hit | RPCs / hit | hit p50 / mean, ms |', '|---|---|---|---|---|'];
  try {
    for (const shards of shardCounts) {
      const id = `bench-global:${shards}:${Date.now()}`;
      // Every shard written, shard 0 past spillAfter: the window of a counter at (or near) its limit.
      for (let from = 0; from < shards; from += 400) {
        const batch = db.batch();
        for (let s = from; s < Math.min(shards, from + 400); s++) batch.set(db.collection(rateLimitCollections.counters).doc(`${id}:${s}`), { counter: id, n: s === 0 ? spillAfter : 1, expire_at: expireAt });
        await batch.commit();
      }
      await store.increment([{ id, shards, expireAt }]); // warm the client's channel
      firestoreOperations.reset();
      const ms: number[] = [];
      let total = 0;
      for (let i = 0; i < hits; i++) {
        const start = performance.now();
        [total = 0] = await store.increment([{ id, shards, expireAt }]);
        ms.push(performance.now() - start);
      }
      const ops = firestoreOperations.snapshot();
      const expected = shards - 1 + spillAfter + 1 + hits;
      if (total !== expected) throw new Error(`${shards} shards: total ${total}, expected ${expected}`);
      ms.sort((a, b) => a - b);
      const mean = ms.reduce((a, b) => a + b, 0) / ms.length;
      rows.push(`| ${shards} | ${(ops.reads / hits).toFixed(2)} | ${(ops.writes / hits).toFixed(2)} | ${(ops.rpcs / hits).toFixed(2)} | ${(ms[Math.floor(ms.length / 2)] ?? 0).toFixed(1)} / ${mean.toFixed(1)} |`);
    }
  } finally {
    await db.terminate();
    await emulators.stop();
  }
  process.stdout.write(`${hits} sequential hits per row; totals exact in every row.\n\n${rows.join('\n')}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
