import { randomBytes } from 'node:crypto';

/** A locally administered unicast MAC no other test uses. */
export function aMac(): string {
  const bytes = randomBytes(6);
  bytes[0] = ((bytes[0] as number) & 0xfc) | 0x02;
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join(':');
}

export function aMachine(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    cpus: [{ manufacturer: 'Intel', clock_frequency: 2400000000, cores: 8 }],
    memory_modules: [{ size: 17179869184 }, { size: 17179869184 }],
    accelerators: [],
    nics: [{ mac: aMac() }],
    drives: [{ capacity: 500107862016 }],
    ...overrides,
  };
}
