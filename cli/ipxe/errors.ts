// The one error type of `netboot ipxe build`: what went wrong, said so a user can act on it.

/** usage: the command line or its inputs; toolchain: build tools missing; build: make or I/O failed. */
export type IpxeBuildErrorKind = 'usage' | 'toolchain' | 'build';

export class IpxeBuildError extends Error {
  constructor(
    message: string,
    readonly kind: IpxeBuildErrorKind,
    /** make's full output, when a build step failed. */
    readonly logFile?: string,
  ) {
    super(message);
    this.name = 'IpxeBuildError';
  }
}
