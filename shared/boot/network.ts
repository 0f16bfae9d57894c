import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { BlockList } from 'node:net';
import { ConfigError } from '../config';
import { assertBootClientAllowed, clientAddress, parseCidrs } from './client-address';

/** The header the internal load balancer's URL map sets (terraform/internal_lb.tf), with FRONT_DOOR_SECRET. */
export const frontDoorHeader = 'x-netboot-front-door';

/**
 * Who may use the boot routes (`BOOT_ALLOWED_CIDRS`), and how the client's address is read:
 * `TRUSTED_PROXY_HOPS` for a request through the front door; with FRONT_DOOR_SECRET set, a
 * request without the load balancer's header came to the function's own URL: 1 hop.
 */
export class BootNetwork {
  private readonly allowed: BlockList;
  private readonly frontDoorDigest: Buffer | undefined;

  /** ConfigError for a range that is not a CIDR: found at start-up, not at the first boot. */
  constructor(
    cidrs: string,
    private readonly trustedHops: number,
    frontDoorSecret?: string,
  ) {
    this.frontDoorDigest = frontDoorSecret === undefined ? undefined : digest(frontDoorSecret);
    try {
      this.allowed = parseCidrs(cidrs);
    } catch (err) {
      throw new ConfigError(`invalid configuration: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  /** The client address the trusted front end saw. */
  clientAddress(req: IncomingMessage): string {
    return clientAddress(req, this.hopsOf(req));
  }

  /** 403 unless the request comes from the boot network. */
  assertAllowed(req: IncomingMessage): void {
    assertBootClientAllowed(req, this.allowed, this.hopsOf(req));
  }

  /** The hops of the door the request came through: the load balancer's only with its header. */
  hopsOf(req: IncomingMessage): number {
    if (!this.frontDoorDigest) return this.trustedHops;
    const presented = req.headers[frontDoorHeader];
    // Compared as digests: constant time whatever the length sent.
    return typeof presented === 'string' && timingSafeEqual(digest(presented), this.frontDoorDigest) ? this.trustedHops : 1;
  }
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}
