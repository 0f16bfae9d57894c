// Formatting for the console table.

export interface Row {
  name: string;
  value: string;
  target?: string;
  /** undefined: no target. */
  met?: boolean;
}

export const ms = (v: number): string => (Number.isFinite(v) ? `${v < 10 ? v.toFixed(2) : v.toFixed(1)} ms` : 'n/a');
export const mib = (bytes: number): string => (Number.isFinite(bytes) ? `${(bytes / (1024 * 1024)).toFixed(1)} MiB` : 'n/a');
export const pct = (v: number | undefined): string => (v === undefined || !Number.isFinite(v) ? 'n/a' : `${v.toFixed(0)}%`);

export function table(title: string, rows: readonly Row[]): string {
  const w = {
    name: Math.max(4, ...rows.map((r) => r.name.length)),
    value: Math.max(5, ...rows.map((r) => r.value.length)),
    target: Math.max(6, ...rows.map((r) => (r.target ?? '').length)),
  };
  const line = (a: string, b: string, c: string, d: string) => `  ${a.padEnd(w.name)}  ${b.padEnd(w.value)}  ${c.padEnd(w.target)}  ${d}`.trimEnd();
  return [
    title,
    line('Metric', 'Value', 'Target', 'Met'),
    line('-'.repeat(w.name), '-'.repeat(w.value), '-'.repeat(w.target), '---'),
    ...rows.map((r) => line(r.name, r.value, r.target ?? '', r.met === undefined ? '' : r.met ? 'yes' : 'NO')),
  ].join('\n');
}

export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}
