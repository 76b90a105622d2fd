/**
 * layering.test.ts: holds the layering of docs/ARCHITECTURE.md honest by reading the sources'
 * imports. src/transports never imports src/bus or src/actors; src/transports/core (the
 * contract and LinkCore) imports no carrier folder; only src/native.ts loads the addon, and
 * only src/transports (and native.ts itself) import src/native.
 */
import { expect } from 'chai';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));

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
