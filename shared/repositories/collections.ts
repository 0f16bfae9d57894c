/** Firestore collection names, in one place. */
export const collections = {
  machines: 'machines',
  /**
   * One document per MAC (id = canonical MAC), `{ machine_id, boot_profile_id }`: the
   * uniqueness guard, and the boot path's index (one read from MAC to profile). Every
   * transaction that changes a machine's MACs or its profile link writes these too.
   */
  machineMacs: 'machine_macs',
  profiles: 'boot_profiles',
} as const;
