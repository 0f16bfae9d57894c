import { describe, expect, it } from 'vitest';
import { buildFunctionsDocument, kebab, renderArtifacts, sizing, staleArtifacts } from '../../scripts/generate-deploy-artifacts';
import { routes } from '../../shared/routes';

describe('generated deployment artifacts', () => {
  it('are up to date with the route table (run `npm run generate` and commit the result)', () => {
    expect(staleArtifacts()).toEqual([]);
  });

  it('are generated deterministically', () => {
    expect([...renderArtifacts()]).toEqual([...renderArtifacts()]);
  });

  it('size every function of the route table, and nothing else', () => {
    expect(Object.keys(sizing).sort()).toEqual([...new Set(routes.map((r) => r.fn))].sort());
  });

  it('give every function a distinct Cloud Run-compatible name', () => {
    const names = Object.values(buildFunctionsDocument().functions).map((f) => f.name);
    expect(new Set(names).size).toBe(names.length);
    for (const name of names) expect(name).toMatch(/^[a-z][a-z0-9-]{0,40}[a-z0-9]$/);
    expect(kebab('machinesCreate')).toBe('machines-create');
  });
});
