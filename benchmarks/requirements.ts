/**
 * requirements.ts: the packages `switchyard bench` needs and the library does not: the table
 * (cli-table3), the progress bar (cli-progress) and, for --html, the charts (chart.js). They
 * are optional peer dependencies of switchyard (devDependencies in this repository), so a
 * library user never installs them; the bench checks for them before it measures anything
 * and names what to install, rather than failing on an import deep inside a run.
 *
 * Invariant: this module imports none of them, so it loads where they are missing. The
 * modules that do (table.ts, progress.ts; html.ts resolves chart.js only when it writes) are
 * imported by the command only after `missingBenchPackages` found nothing missing.
 */

/** One package the bench loads, and what it is for (shown when it is missing). */
export interface BenchPackage {
  readonly name: string;
  readonly purpose: string;
}

export const TABLE_PACKAGE: BenchPackage = { name: 'cli-table3', purpose: 'the results table' };
export const PROGRESS_PACKAGE: BenchPackage = { name: 'cli-progress', purpose: 'the progress bar' };
export const CHART_PACKAGE: BenchPackage = { name: 'chart.js', purpose: 'the charts of --html' };

/** Finds a package by name as an import from here would; throws when it cannot. */
export type Resolver = (specifier: string) => unknown;

/** Resolution from this module, where table.ts, progress.ts and html.ts import them from. */
const resolveHere: Resolver = (specifier) => import.meta.resolve(specifier);

/** The packages a run with these options loads: chart.js only when it writes --html. */
export function benchPackages(options: { readonly html?: string | undefined }): BenchPackage[] {
  return [TABLE_PACKAGE, PROGRESS_PACKAGE, ...(options.html !== undefined ? [CHART_PACKAGE] : [])];
}

/** Those of `wanted` that `resolve` cannot find. */
export function missingBenchPackages(wanted: readonly BenchPackage[], resolve: Resolver = resolveHere): BenchPackage[] {
  return wanted.filter((p) => {
    try {
      resolve(p.name);
      return false;
    } catch {
      return true;
    }
  });
}

/** What the user reads when packages are missing: what, what for, and the one command to run. */
export function missingPackagesMessage(missing: readonly BenchPackage[]): string {
  const names = missing.map((p) => p.name);
  return (
    `needs ${missing.map((p) => `${p.name} (${p.purpose})`).join(', ')}, not installed: switchyard leaves ` +
    `them out for library users (optional peer dependencies). Install them beside switchyard: npm install ${names.join(' ')}`
  );
}
