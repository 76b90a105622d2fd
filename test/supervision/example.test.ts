/**
 * example.test.ts: runs examples/supervised-pool.ts (compiled) as a user would, in its own
 * process, and checks what it prints, so the example stays true.
 */
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const EXAMPLE = fileURLToPath(new URL('../../examples/supervised-pool.js', import.meta.url));

describe('supervision: examples/supervised-pool', function () {
  it('streams results from a pool of three workers, and from one that was killed and restarted', async function () {
    const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      execFile(process.execPath, [EXAMPLE], { timeout: 30_000 }, (err, stdout, stderr) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
    });
    expect(stderr, 'stderr').to.equal('');
    expect(code, stdout).to.equal(0);
    expect(stdout.trim().split('\n')).to.deep.equal([
      '3 workers running',
      'job 1 -> 1,4,9',
      'job 2 -> 16,25,36',
      'job 3 -> 49,64,81',
      'job 4 -> 100,121,144',
      'job 5 -> 169,196,225',
      'job 6 -> 256,289,324',
      'worker restarted as a new process: true; job 7 -> 361,400,441',
      'stopped',
    ]);
  });
});
