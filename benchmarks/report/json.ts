/**
 * json.ts: --json FILE: the run as the JSON documented in the README.
 */
import { writeFileSync } from 'node:fs';
import type { BenchReport } from '../result.js';

export function writeJsonReport(file: string, report: BenchReport): void {
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
}
