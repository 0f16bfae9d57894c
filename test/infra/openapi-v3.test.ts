import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Validator } from '@seriousme/openapi-schema-validator';
import { describe, expect, it } from 'vitest';
import { openApiV3Path, repoRoot } from '../../scripts/generate-deploy-artifacts';
import { openApiText } from '../../shared/api/openapi';

const committed = readFileSync(path.join(repoRoot, openApiV3Path), 'utf8');

describe('terraform/openapi-v3.json (the OpenAPI 3.1 contract, generated)', () => {
  it('is what shared/api/openapi.ts builds now (run `npm run generate`)', () => {
    expect(committed === openApiText()).toBe(true);
  });

  it('is valid OpenAPI 3.1 as committed', async () => {
    const result = await new Validator().validate(JSON.parse(committed) as Record<string, unknown>);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
  });
});
