// Billable operations the embedded Firestore served, counted as Firestore bills them (a read per
// document returned or looked up, at least one per query; a write per document written), and
// each document's writes per second. Off unless a caller turns it on (the storm's emulator
// child, bench/storm/emulators.ts): `npm start` runs for days and must not grow a map per write.

export interface OperationCounts {
  reads: number;
  writes: number;
  /** Commits and read RPCs (BatchGet, Get, RunQuery, RunAggregationQuery), for RPCs per operation. */
  rpcs: number;
  /** The busiest document by its peak over any `windowSeconds` window: writes / windowSeconds. */
  busiest: { document: string; peakWritesPerSecond: number; writes: number; windowSeconds: number } | null;
  /** The next few, for the report (documents with their peak per second, highest first). */
  top: { document: string; peakWritesPerSecond: number; writes: number }[];
}

class FirestoreOperations {
  private enabled = false;
  private reads = 0;
  private writes = 0;
  private rpcs = 0;
  /** document name -> (unix second -> writes in that second). */
  private readonly writesBySecond = new Map<string, Map<number, number>>();

  enable(): void {
    this.enabled = true;
  }

  reset(): void {
    this.reads = 0;
    this.writes = 0;
    this.rpcs = 0;
    this.writesBySecond.clear();
  }

  read(documents: number): void {
    if (!this.enabled) return;
    this.rpcs++;
    this.reads += documents;
  }

  commit(documentNames: readonly string[]): void {
    if (!this.enabled) return;
    this.rpcs++;
    const second = Math.floor(Date.now() / 1000);
    for (const name of documentNames) {
      this.writes++;
      let perSecond = this.writesBySecond.get(name);
      if (!perSecond) this.writesBySecond.set(name, (perSecond = new Map()));
      perSecond.set(second, (perSecond.get(second) ?? 0) + 1);
    }
  }

  snapshot(windowSeconds = 10, topCount = 5): OperationCounts {
    const peaks = [...this.writesBySecond].map(([document, perSecond]) => {
      // Sliding sum over consecutive seconds (seconds without writes count as 0).
      const seconds = [...perSecond.keys()].sort((a, b) => a - b);
      let best = 0;
      let total = 0;
      let windowSum = 0;
      let tail = 0;
      for (const second of seconds) {
        const count = perSecond.get(second) as number;
        total += count;
        windowSum += count;
        while ((seconds[tail] as number) <= second - windowSeconds) windowSum -= perSecond.get(seconds[tail++] as number) as number;
        best = Math.max(best, windowSum);
      }
      return { document, peakWritesPerSecond: best / windowSeconds, writes: total };
    });
    peaks.sort((a, b) => b.peakWritesPerSecond - a.peakWritesPerSecond || b.writes - a.writes);
    const first = peaks[0];
    return {
      reads: this.reads,
      writes: this.writes,
      rpcs: this.rpcs,
      busiest: first ? { ...first, windowSeconds } : null,
      top: peaks.slice(0, topCount),
    };
  }
}

/** One per process: the emulator's service records here, the process that hosts it reads it. */
export const firestoreOperations = new FirestoreOperations();
