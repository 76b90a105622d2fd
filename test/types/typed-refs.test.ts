/**
 * typed-refs.test.ts: the "must not compile" half of the type-level tests. typed-refs.ts
 * (compiled with the suite) shows correct uses compile; here tsc must reject each file in
 * test/types/must-fail/, each with an error located in that file.
 */
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const MUST_FAIL = join(ROOT, 'test', 'types', 'must-fail');
const TSC = join(dirname(createRequire(import.meta.url).resolve('typescript/package.json')), 'bin', 'tsc');

describe('typed refs', function () {
  this.timeout(60_000);

  it('rejects every file in test/types/must-fail at compile time, each in its own lines', async function () {
    const files = readdirSync(MUST_FAIL).filter((f) => f.endsWith('.ts')).sort();
    expect(files.length, 'must-fail cases').to.be.at.least(5);
    const out = await new Promise<{ code: number | null; text: string }>((resolve) => {
      execFile(
        process.execPath,
        [TSC, '--ignoreConfig', '--noEmit', '--strict', '--skipLibCheck', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--types', 'node', ...files.map((f) => join(MUST_FAIL, f))],
        { cwd: ROOT },
        (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, text: stdout + stderr }),
      );
    });
    expect(out.code, out.text).to.not.equal(0);
    for (const f of files) {
      expect(out.text, `tsc accepted ${f}:\n${out.text}`).to.match(new RegExp(`must-fail/${f.replace('.', '\\.')}\\(\\d+,\\d+\\): error TS\\d+`));
    }
    // nothing outside the must-fail files may be what failed
    const elsewhere = out.text.split('\n').filter((l) => /error TS\d+/.test(l) && !l.includes('must-fail/'));
    expect(elsewhere, 'errors outside the must-fail files').to.deep.equal([]);
  });
});
