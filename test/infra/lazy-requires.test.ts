import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { lazyRequires } from '../../scripts/build';

/** Runs the built CommonJS with a require that records what it loaded, in order. */
function run(js: string, modules: Record<string, unknown>): { loaded: string[]; exports: Record<string, unknown> } {
  const loaded: string[] = [];
  const exports: Record<string, unknown> = {};
  const require = (spec: string) => {
    loaded.push(spec);
    return modules[spec];
  };
  runInNewContext(js, { require, exports, module: { exports } });
  return { loaded, exports };
}

describe('lazyRequires (the built code loads an import on first use)', () => {
  // What TypeScript emits for the build (ES module syntax), before Babel.
  const emitted = `import { Thing } from './a';
import b from 'b';
import { randomUUID } from 'node:crypto';
export const make = () => new Thing(2);
export const call = () => b(3);
export const id = () => typeof randomUUID;
`;
  const modules = {
    './a': { Thing: class { constructor(readonly n: number) {} } },
    b: (n: number) => n * 10,
    'node:crypto': { randomUUID: () => 'x' },
  };

  it('loads nothing but Node built-ins when the module is required, then each import once, on first use', () => {
    const { loaded, exports } = run(lazyRequires(emitted), modules);
    expect(loaded).toEqual(['node:crypto']);
    expect((exports.call as () => number)()).toBe(30);
    expect((exports.make as () => { n: number })().n).toBe(2);
    expect((exports.make as () => { n: number })().n).toBe(2);
    expect(loaded).toEqual(['node:crypto', 'b', './a']);
  });

  it('refuses to build a module that does not parse', () => {
    expect(() => lazyRequires('import { f } from "./a";\nexport const g = () => f(;\n')).toThrow(SyntaxError);
  });
});
