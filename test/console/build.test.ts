import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { buildConsole, consoleDist } from '../../scripts/build-console';
import { consoleSchemaFile, consoleSchemaText } from '../../scripts/console-schema';

/** The console's build: its JavaScript budget, content-hashed names, and API types that follow the served OpenAPI document. */
describe('console build', () => {
  it('JavaScript at most 150 KB gzipped, in content-hashed files that index.html names', async () => {
    const built = await buildConsole();
    expect(built.js).toMatch(/^main-[A-Z0-9]{8}\.js$/);
    expect(built.css).toMatch(/^main-[A-Z0-9]{8}\.css$/);
    // All of it: the entry and every chunk it may load.
    const gzipped = built.scripts.reduce((sum, name) => sum + gzipSync(readFileSync(join(consoleDist, name)), { level: 9 }).length, 0);
    const entry = gzipSync(readFileSync(join(consoleDist, built.js)), { level: 9 }).length;
    process.stdout.write(`console JavaScript: ${built.scripts.length} files, ${gzipped} bytes gzipped in all; the entry ${built.jsBytes} bytes minified, ${entry} gzipped\n`);
    expect(gzipped).toBeLessThanOrEqual(150 * 1024);
    const html = readFileSync(join(consoleDist, 'index.html'), 'utf8');
    expect(html).toContain(`src="./${built.js}"`);
    expect(html).toContain(`href="./${built.css}"`);
  }, 60_000);

  it('console/src/api/schema.d.ts is what openapi-typescript makes of the served document (npm run generate)', async () => {
    expect(readFileSync(consoleSchemaFile, 'utf8')).toBe(await consoleSchemaText());
  }, 60_000);
});
