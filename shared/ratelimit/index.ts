/**
 * Rate limits shared by every instance, kept in Firestore (`RATE_LIMIT_DATABASE`):
 * limiter.ts applies them (fixed one-minute windows for request rates, leased slots for
 * concurrent downloads); store.ts is the port, firestore-store.ts the adapter, policy.ts
 * the arithmetic.
 */
export { RateLimiter, defaultLeaseTiming, downloadPool, slotRetrySeconds, type DownloadSlot, type LeaseTiming, type Limit, type Scope } from './limiter';
export { FirestoreRateLimitStore, rateLimitCollections } from './firestore-store';
export type { RateLimitStore } from './store';
