import { describe, expect, it } from 'vitest';
import { cloudLoggingLine } from './logging';

describe('cloudLoggingLine (the stdout line Cloud Logging parses)', () => {
  it('puts severity, message, trace keys, httpRequest and labels at the top, the rest under metadata', () => {
    const line = cloudLoggingLine({
      level: 'warn',
      message: 'slow',
      httpRequest: { status: 503 },
      'logging.googleapis.com/trace': 'projects/p/traces/t',
      labels: { fn: 'bootScript' },
      err: new Error('boom'),
      count: 2n,
      skipped: undefined,
    });
    const entry = JSON.parse(line) as Record<string, unknown>;
    expect(entry).toMatchObject({ severity: 'WARNING', message: 'slow', httpRequest: { status: 503 }, 'logging.googleapis.com/trace': 'projects/p/traces/t', 'logging.googleapis.com/labels': { fn: 'bootScript' } });
    expect(entry.metadata).toEqual({ err: expect.stringContaining('Error: boom'), count: '2' });
    expect(typeof entry.time).toBe('string');
  });

  it('still writes the line when its metadata cannot be serialised', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const entry = JSON.parse(cloudLoggingLine({ level: 'error', message: 'x', cyclic })) as { severity: string; metadata: { unserializable: string } };
    expect(entry.severity).toBe('ERROR');
    expect(entry.metadata.unserializable).toMatch(/circular/i);
  });
});
