/**
 * One part of a test's composition root (a store, the inventory) that the test can swap
 * for a misbehaving stand-in while the stack runs: `decorate` hands the stack `wrap(real)`,
 * and the test calls `use(...)` and `reset()`. The test owns it; the service sees an
 * ordinary object.
 */
export class Switchable<T extends object> {
  private realPart: T | undefined;
  private replacement: T | undefined;

  /** For the stack's `decorate`: the part the service gets. */
  readonly wrap = (real: T): T => {
    this.realPart = real;
    return new Proxy(real, {
      get: (_target, prop) => {
        const target = this.replacement ?? this.real;
        const value: unknown = Reflect.get(target, prop, target);
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
  };

  /** The real part, as the stack built it. */
  get real(): T {
    if (!this.realPart) throw new Error('the stack has not built this part yet');
    return this.realPart;
  }

  use(replacement: T): void {
    this.replacement = replacement;
  }

  reset(): void {
    this.replacement = undefined;
  }
}

/** `real` with some methods replaced; the others still run against the emulators. */
export function withOverrides<T extends object>(real: T, overrides: Partial<T>): T {
  return new Proxy(real, {
    get(target, prop) {
      if (Object.prototype.hasOwnProperty.call(overrides, prop)) return overrides[prop as keyof T];
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}
