import type { IncomingMessage } from 'node:http';
import { isIPv4, isIPv6 } from 'node:net';
import { hostnamePattern } from '../domain/machine';

/**
 * `{{base_url}}`: the scheme and host the machine chained from, as the gateway saw them:
 * the `Host` header, and the scheme the trusted front end forwarded (`X-Forwarded-Proto`,
 * which Google's front ends set; its last entry, the one the nearest front end wrote), or the
 * socket's own (`http` locally). Both are validated strictly; anything else is undefined, and
 * a profile using `{{base_url}}` then serves no script (500), never a URL a client chose.
 * Host: an RFC 1123 host name, a dotted IPv4 address or a bracketed IPv6 address, with an
 * optional port 1-65535; lower-cased.
 */
export function baseUrlOf(req: IncomingMessage): string | undefined {
  const proto = schemeOf(req);
  const host = validHost(req.headers.host);
  return proto && host ? `${proto}://${host}` : undefined;
}

function schemeOf(req: IncomingMessage): string | undefined {
  const raw = req.headers['x-forwarded-proto'];
  if (raw === undefined) return (req.socket as { encrypted?: boolean }).encrypted ? 'https' : 'http';
  const last = (Array.isArray(raw) ? raw.join(',') : raw).split(',').at(-1)?.trim().toLowerCase();
  return last === 'http' || last === 'https' ? last : undefined;
}

/** The `Host` header when it is strictly a host (and port), lower-cased; undefined otherwise. */
export function validHost(raw: string | undefined): string | undefined {
  if (typeof raw !== 'string' || raw.length === 0 || raw.length > 261) return undefined;
  const value = raw.toLowerCase();
  const m = /^(\[[0-9a-f:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/.exec(value);
  if (!m) return undefined;
  const [, name = '', port] = m;
  if (port !== undefined && (Number(port) < 1 || Number(port) > 65535 || port.startsWith('0'))) return undefined;
  const ok = name.startsWith('[') ? isIPv6(name.slice(1, -1)) : isIPv4(name) || hostnamePattern.test(name);
  return ok ? value : undefined;
}
