import { describe, expect, it } from 'vitest';
import { defaultStormOptions, runStorm } from '../bench/storm/run';

/**
 * A tiny `npm run storm`: 30 machines on two gateway processes behind the storm's balancer,
 * the emulators in their own process. Every machine must boot, and the report's figures must
 * agree with one another (the same requests seen by the machines, the balancer and Firestore).
 */
describe('npm run storm (bench/storm)', () => {
  it('boots 30 machines on 2 instances, and its report adds up', { timeout: 180_000 }, async () => {
    const machines = 30;
    const r = await runStorm({ ...defaultStormOptions, machines, instances: 2, refusalProbes: 0, log: () => {} });

    expect(r.firstErrors).toEqual([]);
    expect(r.booted).toBe(machines);
    expect(r.failed).toBe(0);
    expect(r.booted + r.failed).toBe(r.machines);
    // Fleet percentiles are ordered and inside the storm.
    const { p50, p99, p100 } = r.timeToBootedMs;
    expect(p50).not.toBeNull();
    expect(p50 as number).toBeLessThanOrEqual(p99 as number);
    expect(p99 as number).toBeLessThanOrEqual(p100 as number);
    expect(p100 as number).toBeLessThanOrEqual(r.stormMs);
    // Each booted machine fetched its script, kernel and initrd at least once.
    for (const phase of ['script', 'kernel', 'initrd'] as const) {
      expect(r.phases[phase].count).toBeGreaterThanOrEqual(machines);
      expect(r.phases[phase].p50Ms as number).toBeLessThanOrEqual(r.phases[phase].p99Ms as number);
    }
    expect(r.phases.report.count + r.reportFailures).toBe(machines);
    // Redirect mode: the images come from Storage, whole, once per boot (no download failed here unless retried).
    expect(r.bytesPerBoot.fromStorage).toBeGreaterThanOrEqual(defaultStormOptions.kernelBytes + defaultStormOptions.initrdBytes);
    // The balancer routed every request the machines made to one of the two instances.
    expect(r.instances).toHaveLength(2);
    const routed = (fn: string) => r.instances.reduce((s, i) => s + (i.requests[fn] ?? 0), 0);
    expect(routed('bootScript')).toBeGreaterThanOrEqual(r.phases.script.count);
    expect(routed('bootReport')).toBe(machines);
    for (const instance of r.instances) expect(instance.cpuMs).toBeGreaterThan(0);
    // Firestore was counted at the emulator, per boot as in total.
    const fs = r.firestore;
    expect(fs).not.toBeNull();
    expect(fs?.reads).toBeGreaterThan(0);
    expect(fs?.writes).toBeGreaterThan(0);
    expect((fs?.readsPerBoot ?? 0) * r.booted).toBeCloseTo(fs?.reads ?? -1, 6);
    expect(fs?.busiest?.writes).toBeGreaterThan(0);
    expect(fs?.busiest?.peakWritesPerSecond).toBeLessThanOrEqual((fs?.busiest?.writes ?? 0) / 10 + 1e-9);
  });
});
