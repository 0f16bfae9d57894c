import { createHash } from 'node:crypto';
import { isIP } from 'node:net';

/**
 * What goes into a counter's document id in place of its key: keys are validated values
 * (a canonical MAC, a verified email, a parsed address), and still never appear in an
 * id as sent, so no client string can shape a document id (or say who it belongs to).
 */
export function digest(key: string): string {
  return createHash('sha256').update(key).digest('base64url').slice(0, 22);
}

/**
 * The per-address key of a client address: an IPv4 address as it is, an IPv6 address by
 * its /64 (one subscriber typically holds a whole /64 and could rotate through it), and
 * everything unparsable under one shared key.
 */
export function addressKey(address: string): string {
  const family = isIP(address);
  if (family === 4) return address;
  if (family === 6) return `${ipv6Prefix64(address.split('%')[0] as string)}::/64`;
  return 'unknown';
}

function ipv6Prefix64(address: string): string {
  // The URL parser writes IPv6 in canonical form (lower case, embedded IPv4 as hex, `::`).
  const canonical = new URL(`http://[${address}]/`).hostname.slice(1, -1);
  const [head = '', tail] = canonical.split('::') as [string, string | undefined];
  const headGroups = head ? head.split(':') : [];
  const tailGroups = tail ? tail.split(':') : [];
  const groups = tail === undefined ? headGroups : [...headGroups, ...Array<string>(8 - headGroups.length - tailGroups.length).fill('0'), ...tailGroups];
  return groups
    .slice(0, 4)
    .map((g) => parseInt(g, 16).toString(16))
    .join(':');
}
