const colonForm = /^[\da-f]{2}(?::[\da-f]{2}){5}$/i;
const hyphenForm = /^[\da-f]{2}(?:-[\da-f]{2}){5}$/i;

export type MacRejection = 'format' | 'not-unicast' | 'all-zero';

/**
 * A NIC MAC in canonical lower-case colon form, from the colon form iPXE's
 * `${net0/mac}` gives or the hyphen form of `${mac:hexhyp}`, in any case.
 * Group (multicast, broadcast) and all-zero addresses are never a NIC's own.
 */
export function parseMac(value: string): { ok: true; mac: string } | { ok: false; reason: MacRejection } {
  if (!colonForm.test(value) && !hyphenForm.test(value)) return { ok: false, reason: 'format' };
  const mac = value.toLowerCase().replaceAll('-', ':');
  if (mac === '00:00:00:00:00:00') return { ok: false, reason: 'all-zero' };
  if (parseInt(mac.slice(0, 2), 16) & 1) return { ok: false, reason: 'not-unicast' };
  return { ok: true, mac };
}

export const macRejectionReasons: Record<MacRejection, string> = {
  format: 'MAC address must be in format aa:bb:cc:dd:ee:ff',
  'not-unicast': 'MAC address must be a unicast address (the first octet must be even)',
  'all-zero': 'MAC address must not be 00:00:00:00:00:00',
};
