import type { IncomingMessage } from 'node:http';
import type { BlockList } from 'node:net';
import { getConfig } from '../config';
import { assertBootClientAllowed, parseCidrs } from './client-address';

let allowed: { spec: string; list: BlockList } | undefined;

/** 403 unless the request comes from the boot network (`BOOT_ALLOWED_CIDRS`). */
export function assertFromBootNetwork(req: IncomingMessage): void {
  const { BOOT_ALLOWED_CIDRS: spec, TRUSTED_PROXY_HOPS: hops } = getConfig();
  if (allowed?.spec !== spec) allowed = { spec, list: parseCidrs(spec) };
  assertBootClientAllowed(req, allowed.list, hops);
}
