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
  findByMac(mac: string): Promise<MachineRecord | null>;
  list(query: MachineListQuery): Promise<MachinePage>;
  replace(id: string, spec: MachineSpec): Promise<Machine>;
  delete(id: string): Promise<void>;
}

/** A machine with the internal link to its boot profile, for the boot path. */
export interface MachineRecord extends Machine {
  bootProfileId: string | null;
}
