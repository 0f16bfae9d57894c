/**
 * What can go wrong in the domain, named. The HTTP layer turns each into the problem
 * type of the same name (shared/http/problem.ts); nothing here knows about HTTP.
 */
export type DomainErrorKind =
  | 'machine-not-found'
  | 'duplicate-mac-address'
  | 'machine-has-boot-profile'
  | 'unknown-machine'
  | 'boot-profile-exists'
  | 'boot-profile-not-found'
  | 'machine-not-configured'
  | 'upload-session-not-found'
  | 'upload-session-expired'
  | 'upload-session-cancelled'
  | 'upload-session-finalized'
  | 'blob-unavailable'
  | 'boot-not-found'
  | 'boot-phase-recorded';

export class DomainError extends Error {
  constructor(
    readonly kind: DomainErrorKind,
    message: string,
    /** Extension members a client can act on (snake_case, as the API spells them). */
    readonly members: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

export class MachineNotFound extends DomainError {
  constructor(id: string) {
    super('machine-not-found', `Machine with ID ${id} not found`, { machine_id: id });
  }
}

export class DuplicateMacAddress extends DomainError {
  /** `existingMachineId` absent: the MAC is repeated inside one request. */
  constructor(mac: string, existingMachineId?: string) {
    super(
      'duplicate-mac-address',
      existingMachineId ? `A machine with MAC address ${mac} already exists` : `MAC address ${mac} appears more than once in the request`,
      existingMachineId ? { mac_address: mac, existing_machine_id: existingMachineId } : { mac_address: mac },
    );
  }
}

export class MachineHasBootProfile extends DomainError {
  constructor(machineId: string, profileId: string) {
    super('machine-has-boot-profile', `Machine ${machineId} has boot profile ${profileId}; delete the profile first (DELETE /api/v1/boot/${machineId}/profile)`, {
      machine_id: machineId,
      boot_profile_id: profileId,
    });
  }
}

export class UnknownMachine extends DomainError {
  constructor(machineId: string) {
    super('unknown-machine', `Machine ${machineId} does not exist`, { field: 'machine_id', machine_id: machineId });
  }
}

export class BootProfileExists extends DomainError {
  constructor(machineId: string, existingProfileId: string) {
    super('boot-profile-exists', `Machine ${machineId} already has a boot profile`, { machine_id: machineId, existing_profile_id: existingProfileId });
  }
}

export class BootProfileNotFound extends DomainError {
  constructor(machineId: string) {
    super('boot-profile-not-found', `No boot profile found for machine ${machineId}`, { machine_id: machineId });
  }
}

export class MachineNotConfigured extends DomainError {
  constructor(mac: string) {
    super('machine-not-configured', `No boot configuration found for MAC address ${mac}`, { mac_address: mac });
  }
}

export class UploadSessionNotFound extends DomainError {
  constructor(id: string) {
    super('upload-session-not-found', `Upload session ${id} not found`, { upload_id: id });
  }
}

export class UploadSessionExpired extends DomainError {
  constructor(id: string, expiresAt: Date) {
    super('upload-session-expired', `Upload session ${id} expired at ${expiresAt.toISOString()}; start a new session`, { upload_id: id, expires_at: expiresAt.toISOString() });
  }
}

export class UploadSessionCancelled extends DomainError {
  constructor(id: string) {
    super('upload-session-cancelled', `Upload session ${id} was cancelled; start a new session`, { upload_id: id });
  }
}

export class UploadSessionFinalized extends DomainError {
  constructor(id: string, profileId: string) {
    super('upload-session-finalized', `Upload session ${id} is already finalized (boot profile ${profileId})`, { upload_id: id, boot_profile_id: profileId });
  }
}

/** A blob the session meant to reuse is no longer held (released since): its file must be uploaded again. */
export class BlobUnavailable extends DomainError {
  constructor(field: string, blobId: string) {
    super('blob-unavailable', `The stored ${field} (blob ${blobId}) is no longer available; upload the file again (start a new session)`, { field, blob_id: blobId });
  }
}

/** A report of a phase this boot already reported: each is accepted once per boot. */
export class BootPhaseRecorded extends DomainError {
  constructor(phase: string) {
    super('boot-phase-recorded', `This boot already reported ${phase}; each phase is accepted once per boot`, { phase });
  }
}

/** A boot report or callback whose boot reference and secret name no boot record (unknown, expired, or a wrong secret: not told apart). */
export class BootNotFound extends DomainError {
  constructor() {
    super('boot-not-found', 'No boot matches this boot token (unknown, expired, or the secret does not match)');
  }
}
