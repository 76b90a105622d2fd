/**
 * resources.ts: what a process holds, read from /proc: resident memory (VmRSS), threads
 * (/proc/PID/task) and open fds (/proc/PID/fd); and the growth rule the soak holds a process
 * to between its warm-up checkpoint and its last one.
 *
 * The growth rule: RSS may grow by less than RSS_GROWTH (20%); threads and fds must be equal.
 * Both checkpoints are taken quiesced (no traffic in flight, every child running and linked,
 * a full GC in each process first), so equal is the honest bound for fds and threads.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** One reading of one process. */
export interface Usage {
  pid: number;
  rssKb: number;
  threads: number;
  fds: number;
}

/** RSS at the last checkpoint may be at most this fraction above the warm-up one. */
export const RSS_GROWTH = 0.2;

/** Reads `pid` (or this process); undefined if it is gone. */
export function readUsage(pid: number | 'self'): Usage | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rss = /^VmRSS:\s+(\d+) kB/m.exec(status);
    return {
      pid: pid === 'self' ? process.pid : pid,
      rssKb: rss ? Number(rss[1]) : 0,
      threads: readdirSync(`/proc/${pid}/task`).length,
      // readdir opens one fd of its own for the listing; it is closed before the count is used
      fds: readdirSync(`/proc/${pid}/fd`).length,
    };
  } catch {
    return undefined;
  }
}

export function formatUsage(u: Usage | undefined): string {
  if (!u) return '-';
  return `${(u.rssKb / 1024).toFixed(1)}MB/${u.threads}t/${u.fds}fd`;
}

/** Why `end` is not flat against `warm` (empty if it is). */
export function growthProblems(who: string, warm: Usage, end: Usage): string[] {
  const problems: string[] = [];
  if (end.rssKb >= warm.rssKb * (1 + RSS_GROWTH)) {
    problems.push(`${who}: RSS grew ${(((end.rssKb - warm.rssKb) / warm.rssKb) * 100).toFixed(0)}% after warm-up (${warm.rssKb} kB -> ${end.rssKb} kB; it must stay under ${RSS_GROWTH * 100}%)`);
  }
  if (end.threads !== warm.threads) problems.push(`${who}: threads ${warm.threads} after warm-up, ${end.threads} at the end`);
  if (end.fds !== warm.fds) problems.push(`${who}: open fds ${warm.fds} after warm-up, ${end.fds} at the end`);
  return problems;
}
