/**
 * quickstart.test.ts: runs the README's example (examples/quickstart.ts, compiled) as a user
 * would, in its own process, and checks what it prints: the example is kept true by CI.
 */
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const QUICKSTART = fileURLToPath(new URL('../../examples/quickstart.js', import.meta.url));

describe('examples: quickstart', function () {
  it('runs the four interaction models across two processes and exits cleanly', async function () {
    const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      execFile(process.execPath, [QUICKSTART], { timeout: 30_000 }, (err, stdout, stderr) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
    });
    expect(stderr, 'stderr').to.equal('');
    expect(code, stdout).to.equal(0);
    expect(stdout.trim().split('\n')).to.deep.equal([
      'ask get -> 12',
      'stream ticks -> [12,12,12]',
      'channel scale -> [12,24,36]',
      'ask with a timeout -> ok',
    ]);
  });
});
