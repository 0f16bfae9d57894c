import { getFirestore } from '../clients';
import { FirestoreMachineRepository } from './firestore-machines';
import type { MachineRepository } from './machines';

let machineRepo: MachineRepository | undefined;

export function machineRepository(): MachineRepository {
  machineRepo ??= new FirestoreMachineRepository(getFirestore());
  return machineRepo;
}

/** Tests switch projects between files and inject failing adapters. */
export function setMachineRepository(repo: MachineRepository | undefined): void {
  machineRepo = repo;
}
