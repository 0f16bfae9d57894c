import { Writable } from 'node:stream';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { describe, expect, it } from 'vitest';
import winston from 'winston';
import { redactUrl } from '../shared/logging';
import { createTelemetry } from '../shared/telemetry/sdk';
import type { Telemetry } from '../shared/telemetry';
import { aMac, aMachine } from './helpers/fixtures';
import { postProfile, profileForm, randomFile } from './helpers/profiles';
import { request, useLocalStack } from './helpers/stack';

/**
 * Issue 21, nothing secret in logs: a whole boot (script, report, metadata, a redirect to a
 * signed URL, a refused report) is made, then every log line and span it produced is read
 * for the secrets the boot handed out. The access log runs at the default level (info).
 */
const spans = new InMemorySpanExporter();
let telemetry: Telemetry | undefined;
const testTelemetry = () => (telemetry ??= createTelemetry({ spanProcessors: [new SimpleSpanProcessor(spans)], metricReaders: [] }));
const lines: string[] = [];
const logger = winston.createLogger({
  level: 'debug',
  format: winston.format.json(),
  transports: [new winston.transports.Stream({ stream: new Writable({ write: (chunk: Buffer, _enc, done) => (lines.push(chunk.toString()), done()) }) })],
});
const stack = useLocalStack({ ASSET_DELIVERY: 'redirect', LOG_LEVEL: 'debug' }, { decorate: (parts) => ({ ...parts, telemetry: testTelemetry(), logger }) });
const api = (method: string, path: string, init?: Parameters<typeof request>[3]) => request(stack.url, method, path, init);

describe('nothing secret in logs or spans', () => {
  it('redactUrl keeps the ids and drops the secrets', () => {
    const machine = '01a2493e-7243-784e-b11c-b4490c99b0f1';
    const boot = '01a2493e-7075-763a-96b0-4dbef0395416';
    const secret = 'A'.repeat(43);
    expect(redactUrl(`/boot/report?token=${machine}.${boot}.${secret}&phase=booting`)).toBe(`/boot/report?token=${machine}.${boot}.REDACTED&phase=booting`);
    expect(redactUrl(`/nocloud/${machine}.${boot}.${secret}/user-data`)).toBe(`/nocloud/${machine}.${boot}.REDACTED/user-data`);
    expect(redactUrl('/boot/installed?token=garbage')).toBe('/boot/installed?token=REDACTED');
    expect(redactUrl('https://storage/b/o?X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Signature=abcdef&X-Goog-Date=1')).toBe('https://storage/b/o?X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Signature=REDACTED&X-Goog-Date=1');
  });

  it('a whole boot writes no token secret, metadata key secret or URL signature to a log line or a span', async () => {
    const mac = aMac();
    const created = await api('POST', '/api/v1/machines', { json: aMachine({ nics: [{ mac }], netboot: 'once' }) });
    const form = profileForm({ machine_id: String(created.body.id), kernel: randomFile(1024), initrd: randomFile(1024), kernel_args: '["ds=nocloud;s={{metadata_url}}"]', extra: [['user_data', new TextEncoder().encode('#cloud-config\n')]] });
    expect((await postProfile(stack.url, form)).status).toBe(201);
    lines.length = 0;
    spans.reset();

    const script = (await api('GET', `/boot.ipxe?mac=${mac}`)).text;
    const token = /\/boot\/report\?token=([^&\s]+)/.exec(script)?.[1] ?? '';
    const seed = new URL(/ds=nocloud;s=(\S+)/.exec(script)?.[1] ?? 'http://missing/').pathname;
    const kernel = /^kernel (\S+)/m.exec(script)?.[1] ?? '';
    const secrets = [token.split('.')[2] ?? '', seed.split('/')[2]?.split('.')[2] ?? ''];
    expect(secrets.every((s) => s.length === 43)).toBe(true);

    const redirect = await fetch(stack.url + kernel, { redirect: 'manual' });
    expect(redirect.status).toBe(302);
    const signature = new URL(redirect.headers.get('location') ?? '').searchParams.get('X-Goog-Signature') ?? '';
    expect(signature.length).toBeGreaterThan(20);
    secrets.push(signature);
    expect((await api('GET', `${seed}user-data`)).status).toBe(200);
    expect((await api('GET', `/boot/report?token=${token}&phase=booting`)).status).toBe(200);
    // Refused ones too: a replay (409), another phase's route with the metadata key (404).
    expect((await api('GET', `/boot/report?token=${token}&phase=booting`)).status).toBe(409);
    expect((await api('POST', `/boot/installed?token=${seed.split('/')[2]}`)).status).toBe(404);

    const written = [...lines, ...spans.getFinishedSpans().map((s) => JSON.stringify({ name: s.name, attributes: s.attributes, events: s.events }))];
    expect(written.some((line) => line.includes('/boot/report'))).toBe(true); // the access log did run
    expect(written.some((line) => line.includes('/nocloud/'))).toBe(true);
    for (const secret of secrets) expect(written.filter((line) => line.includes(secret))).toEqual([]);
  });
});
