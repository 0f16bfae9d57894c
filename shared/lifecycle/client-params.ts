import { validationError } from '../http/problem';

/**
 * `arch` and `platform` of the chain line (`&arch=${buildarch}&platform=${platform}`): iPXE's
 * values are short lower-case words (`i386`, `x86_64`, `arm64`; `pcbios`, `efi`). Absent or
 * empty (a build without the setting expands it to nothing): null. Anything else: 400.
 */
const pattern = /^[a-z0-9_]{1,16}$/;

export interface ClientParams {
  arch: string | null;
  platform: string | null;
}

export function clientParams(query: Record<string, unknown>): ClientParams {
  const one = (name: 'arch' | 'platform'): string | null => {
    const raw = query[name];
    if (raw === undefined || raw === '') return null;
    if (typeof raw !== 'string' || !pattern.test(raw)) {
      throw validationError([{ field: name, reason: 'must be 1-16 characters of a-z, 0-9 and _ (iPXE ${buildarch} / ${platform})' }], `Query parameter ${name} is not valid`);
    }
    return raw;
  };
  return { arch: one('arch'), platform: one('platform') };
}
