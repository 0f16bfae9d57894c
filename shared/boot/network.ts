import type { IncomingMessage } from 'node:http';
import type { BlockList } from 'node:net';
import { ConfigError } from '../config';
import { assertBootClientAllowed, clientAddress, parseCidrs } from './client-address';

/** Who may use the boot routes (`BOOT_ALLOWED_CIDRS`), and how the client's address is read (`TRUSTED_PROXY_HOPS`). */
export class BootNetwork {
  private readonly allowed: BlockList;

  /** ConfigError for a range that is not a CIDR: found at start-up, not at the first boot. */
  constructor(
    cidrs: string,
    private readonly trustedHops: number,
  ) {
    try {
      this.allowed = parseCidrs(cidrs);
    } catch (err) {
      throw new ConfigError(`invalid configuration: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  /** The client address the trusted front end saw. */
  clientAddress(req: IncomingMessage): string {
    return clientAddress(req, this.trustedHops);
  }

  /** 403 unless the request comes from the boot network. */
  assertAllowed(req: IncomingMessage): void {
    assertBootClientAllowed(req, this.allowed, this.trustedHops);
  }
}
