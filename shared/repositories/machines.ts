import type { Machine, MachineSpec } from '../domain/machine';

export interface MachinePage {
  machines: Machine[];
  total: number;
}

export interface MachineListQuery {
  page: number;
  perPage: number;
  mac?: string;
}

/** Where machines live. Every method throws ProblemError for the client-facing failures. */
export interface MachineRepository {
  create(spec: MachineSpec): Promise<Machine>;
  get(id: string): Promise<Machine | null>;
  /** With the internal link to the machine's boot profile. */
  findById(id: string): Promise<MachineRecord | null>;
  /** The boot path's lookup: one document read, or null when no machine has the MAC. */
  findBootTarget(mac: string): Promise<BootTarget | null>;
  list(query: MachineListQuery): Promise<MachinePage>;
  replace(id: string, spec: MachineSpec): Promise<Machine>;
  delete(id: string): Promise<void>;
}

/** A machine with the internal link to its boot profile. */
export interface MachineRecord extends Machine {
  bootProfileId: string | null;
}

/** Who owns a MAC and which profile boots it. */
export interface BootTarget {
  machineId: string;
  bootProfileId: string | null;
}
