/** Firestore collection names, in one place. */
export const collections = {
  machines: 'machines',
  /** One document per MAC (id = canonical MAC): the uniqueness guard and the boot-time index. */
  machineMacs: 'machine_macs',
  profiles: 'boot_profiles',
} as const;
