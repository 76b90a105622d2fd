/**
 * layering.test.ts: holds the layering of docs/ARCHITECTURE.md honest by reading the sources'
 * imports. src/transports never imports src/bus or src/actors; src/transports/core (the
 * contract and LinkCore) imports no carrier folder; only src/native.ts loads the addon, and
 * only src/transports (and native.ts itself) import src/native. The library never imports the
 * bench harness (benchmarks/) statically: `switchyard bench` loads it with import() when it
 * runs, so using the library loads none of the harness or its optional packages.
 */
import { expect } from 'chai';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));
const BENCHMARKS = fileURLToPath(new URL('../../benchmarks/', import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

function imports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/(?:import|export)[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g)].map((m) => (m[1] ?? m[2])!);
}

/**
 * The specifiers a source loads when it is loaded: `import ... from`, `export ... from` and
 * bare `import '...'`, type-only ones included (a declaration in dist/src must not point into
 * dist/benchmarks either). import() is not among them: it runs only when called.
 */
function staticImports(text: string): string[] {
  return [...text.matchAll(/^\s*(?:import|export)\b(?!\s*\()(?:[^'";]*?\bfrom)?\s*['"]([^'"]+)['"]/gm)].map((m) => m[1]!);
}

describe('layering', function () {
  const files = sources(SRC).map((f) => ({ rel: relative(SRC, f), deps: imports(f) }));

  it('finds the sources it checks', function () {
    expect(files.map((f) => f.rel)).to.include.members(['native.ts', 'transports/core/transport.ts', 'transports/core/link-core.ts', 'index.ts']);
  });

  it('keeps src/transports free of the bus and actor layers', function () {
    for (const f of files.filter((f) => f.rel.startsWith('transports/'))) {
      for (const d of f.deps) expect(d, `${f.rel} imports ${d}`).to.not.match(/(^|\/)(bus|actors)\//);
    }
  });

  it('keeps src/transports/core free of the carriers (stream, datagram, shm)', function () {
    // Type-only imports (option types a core helper accepts and passes on) carry no code.
    for (const f of files.filter((f) => f.rel.startsWith('transports/core/'))) {
      const text = readFileSync(join(SRC, f.rel), 'utf8');
      expect(text, f.rel).to.not.match(/^(?:import|export)(?! type )[^'"]*from\s+['"]\.\.\/(stream|datagram|shm)\//m);
    }
  });

  it('sees static imports, and only them, as static', function () {
    const text = [
      "import { a } from '../../benchmarks/a.js';",
      "import type { B } from '../../benchmarks/b.js';",
      "export { c } from '../../benchmarks/c.js';",
      "import '../../benchmarks/d.js';",
      'import {',
      '  e,',
      "} from '../../benchmarks/e.js';",
      "  const { f } = await import('../../benchmarks/f.js');",
      "const g = 'import x from \"nowhere\"';",
    ].join('\n');
    expect(staticImports(text)).to.deep.equal(['a', 'b', 'c', 'd', 'e'].map((x) => `../../benchmarks/${x}.js`));
  });

  it('keeps the library free of static imports of benchmarks/ (the bench is loaded by import())', function () {
    for (const f of files) {
      const text = readFileSync(join(SRC, f.rel), 'utf8');
      for (const d of staticImports(text)) {
        const target = d.startsWith('.') ? resolve(dirname(join(SRC, f.rel)), d) : d;
        expect(`${target}${sep}`.startsWith(BENCHMARKS) || target.startsWith(BENCHMARKS), `${f.rel} imports ${d} statically`).to.equal(false);
      }
    }
    // The one door is there, and it is a dynamic import.
    expect(readFileSync(join(SRC, 'cli/bench.ts'), 'utf8')).to.match(/await import\(['"]\.\.\/\.\.\/benchmarks\//);
  });

  it('loads the addon only through src/native.ts, used only by transports', function () {
    for (const f of files) {
      const text = readFileSync(join(SRC, f.rel), 'utf8');
      if (f.rel !== 'native.ts') expect(text, f.rel).to.not.match(/\.node['"]/);
      if (f.deps.some((d) => /(^|\/)native\.js$/.test(d))) {
        expect(f.rel.startsWith('transports/'), `${f.rel} imports the addon`).to.equal(true);
      }
    }
  });
});
