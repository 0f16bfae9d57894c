/**
 * Rate limits shared by every instance, kept in Firestore (`RATE_LIMIT_DATABASE`):
 * fixed one-minute windows for request rates (limits.ts), leased slots for concurrent
 * downloads (slots.ts). store.ts is the port, firestore-store.ts the adapter, policy.ts
 * the arithmetic, runtime.ts the wiring tests override.
 */
export { enforceAdminLimits, enforceBootScriptLimit, enforceLimits, type Limit, type Scope } from './limits';
export { acquireDownloadSlot, slotRetrySeconds, type DownloadSlot } from './slots';
export { overrideRateLimits, rateLimitStore, resetRateLimits, type LeaseTiming } from './runtime';
export { rateLimitCollections } from './firestore-store';
export type { RateLimitStore } from './store';
