import { BlockList, isIP } from 'node:net';
import type { IncomingMessage } from 'node:http';
import { ProblemError } from '../http/problem';

/** `BOOT_ALLOWED_CIDRS` as a BlockList; an unparsable entry fails loudly at start-up. */
export function parseCidrs(spec: string): BlockList {
  const list = new BlockList();
  for (const entry of spec.split(',').map((s) => s.trim()).filter(Boolean)) {
    const [address, bits] = entry.split('/');
    const family = isIP(address ?? '');
    const prefix = bits === undefined ? (family === 6 ? 128 : 32) : Number(bits);
    if (!family || !Number.isInteger(prefix) || prefix < 0 || prefix > (family === 6 ? 128 : 32)) {
      throw new Error(`BOOT_ALLOWED_CIDRS: "${entry}" is not an IPv4 or IPv6 CIDR`);
    }
    list.addSubnet(address as string, prefix, family === 6 ? 'ipv6' : 'ipv4');
  }
  return list;
}

/**
 * The client address the trusted front end saw. Google's front ends (Cloud Run,
 * API Gateway, the load balancers) append the peer they saw to X-Forwarded-For, so
 * the trustworthy entry is the `trustedHops`-th from the right; anything left of it
 * came from the client and is ignored. Without the header, the socket's peer.
 */
export function clientAddress(req: IncomingMessage, trustedHops: number): string {
  return clientAddressFrom(req.headers['x-forwarded-for'], req.socket.remoteAddress, trustedHops);
}

/**
 * Pure: the client address from an X-Forwarded-For value and the socket's peer. Each front
 * door has its own `trustedHops` (Terraform sets it per function: README, Security):
 *   function URL:              `<client>`                          -> 1
 *   internal Application LB:   `<client>,<load-balancer-ip>`       -> 2
 *   API Gateway:               `<client>,<gateway egress>`         -> 2
 * each after whatever the client itself sent, which is ignored.
 */
export function clientAddressFrom(forwardedFor: string | string[] | undefined, peer: string | undefined, trustedHops: number): string {
  const entries = (Array.isArray(forwardedFor) ? forwardedFor.join(',') : (forwardedFor ?? '')).split(',').map((s) => s.trim()).filter(Boolean);
  const fromHeader = entries.length >= trustedHops ? entries[entries.length - trustedHops] : undefined;
  return normalise(fromHeader ?? peer ?? '');
}

/** `::ffff:10.0.0.1` is an IPv4 client on a dual-stack socket. */
function normalise(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return mapped ? (mapped[1] as string) : address;
}

export function assertBootClientAllowed(req: IncomingMessage, allowed: BlockList, trustedHops: number): void {
  const address = clientAddress(req, trustedHops);
  const family = isIP(address);
  if (!family || !allowed.check(address, family === 6 ? 'ipv6' : 'ipv4')) {
    throw new ProblemError('forbidden', 'Boot endpoints accept requests only from the boot network', { client_address: address || 'unknown' });
  }
}
