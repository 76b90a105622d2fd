/**
 * soak-table.ts: the soak's per-transport table (cli-table3, as the bench's table.ts), with
 * the legend that says what each column counts. The numbers come from the Ledgers as they are.
 */
import Table from 'cli-table3';
import type { Ledger } from './ledger.js';

export const LEGEND = `sent/received/lost count tells + asks + stream values. in doubt: tells sent to a child
that was then killed and that no later answer listed (they may have died with it); lost:
missing although an answer from the same, never-killed child vouched for them (tells), asks
timed out, stream values skipped. asks gone: rejected with PeerGoneError because the child
was killed. streams ok/cut: completed in order / ended by PeerGoneError after an in-order prefix.`;

export function renderSoakTable(ledgers: readonly Ledger[]): string {
  const table = new Table({
    head: ['transport', 'reliable', 'sent', 'received', 'in doubt', 'lost', 'tells', 'asks', 'asks gone', 'streams ok/cut', 'kills', 'restarts', 'broken'],
    colAligns: ['left', 'left', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'right'],
    style: { head: [], border: [] },
    chars: { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' },
  });
  for (const l of ledgers) {
    const c = l.counts;
    table.push([
      l.transport,
      l.reliable ? 'yes' : 'no',
      l.sent,
      l.received,
      c.tellsInDoubt,
      l.lost,
      c.tellsSent,
      c.asksSent,
      c.asksPeerGone,
      `${c.streamsCompleted}/${c.streamsCut}`,
      c.kills,
      c.restarts,
      l.broken,
    ]);
  }
  return table.toString();
}
