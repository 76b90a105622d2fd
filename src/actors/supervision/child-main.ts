/**
 * child-main.ts: the program a supervised child process runs (started by launch.ts, never by
 * hand). It loads the actor module named in SWITCHYARD_CHILD, whose default export is a
 * defineActor() definition, hosts it beside a small control actor, and links back to its
 * parent over the inherited end (pair transports) or the given address.
 *
 * Lifetime: the child leaves (stops its system, removing its OS objects, then exits) when
 * its link to the parent ends, when SIGTERM arrives, or when its parent process is gone
 * (the ppid changes: checked every 200 ms, so a parent killed by SIGKILL is noticed within
 * 1 s even if no EOF arrives). PR_SET_PDEATHSIG would need native code under
 * src/transports; the ppid watch does its work portably. SIGINT is ignored: Ctrl-C reaches
 * the whole process group, and the parent, not the terminal, decides when children stop.
 *
 * Exit codes: 0 after an orderly leave, 1 when the actor's init throws, EXIT_BAD_MODULE (78)
 * when the module cannot be loaded or exports no definition.
 */
import { ActorSystem, connect, defineActor, linkFromParent } from '../../index.js';
import { isActorDefinition, type AnyActorDefinition } from '../define.js';
import { CHILD_ENV, CONTROL_ACTOR, EXIT_BAD_MODULE, type ChildInstructions } from './launch.js';

const PARENT_CHECK_MS = 200;
/** How long an orderly leave may take before we exit regardless. */
const LEAVE_DEADLINE_MS = 2000;
/** After the parent died nobody waits for a goodbye: leave sooner. */
const ORPHAN_DEADLINE_MS = 300;

function describe(err: unknown): string {
  return err instanceof Error ? (err.stack ?? err.message) : String(err);
}

const raw = process.env[CHILD_ENV];
delete process.env[CHILD_ENV];
if (raw === undefined) {
  process.stderr.write('child-main.js is started by system.spawn(), not by hand\n');
  process.exit(2);
}
const ins = JSON.parse(raw) as ChildInstructions;

let system: ActorSystem | undefined;
let leaving = false;
function leave(code: number, deadlineMs = LEAVE_DEADLINE_MS): void {
  if (leaving) return;
  leaving = true;
  setTimeout(() => process.exit(code), deadlineMs);
  void (system?.stop() ?? Promise.resolve()).finally(() => process.exit(code));
}

process.on('SIGINT', () => {});
process.on('SIGTERM', () => leave(0));
setInterval(() => {
  if (process.ppid !== ins.parentPid) leave(0, ORPHAN_DEADLINE_MS);
}, PARENT_CHECK_MS).unref();

let definition: AnyActorDefinition;
try {
  const mod = (await import(ins.module)) as { default?: unknown };
  if (!isActorDefinition(mod.default)) throw new TypeError(`${ins.module} has no default export made by defineActor()`);
  definition = mod.default;
} catch (err) {
  process.stderr.write(`cannot load actor module: ${describe(err)}\n`);
  process.exit(EXIT_BAD_MODULE);
}

let markReady!: () => void;
const ready = new Promise<void>((r) => (markReady = r));
const spec = definition.spec;
// init runs in the actor's mailbox as usual; we only learn when it is done, or exit if it throws
const wrapped = defineActor({
  ...spec,
  init: async (...args: unknown[]) => {
    try {
      const state: unknown = await (spec.init as (...a: unknown[]) => unknown)(...args);
      markReady();
      return state;
    } catch (err) {
      process.stderr.write(`init of actor ${ins.actor} failed: ${describe(err)}\n`);
      process.exit(1);
    }
  },
} as Parameters<typeof defineActor>[0]);

const control = defineActor({
  init: () => null,
  receive: {
    ready: async () => {
      await ready;
      return process.pid;
    },
    ping: () => process.pid,
  },
});

system = await ActorSystem.start({
  name: ins.node,
  onError: (err, context) => process.stderr.write(`${context}: ${describe(err)}\n`),
});
system.local(control, { name: CONTROL_ACTOR });
system.local(wrapped, { name: ins.actor, args: ins.args as never[] });
try {
  const link = ins.connect !== undefined ? await connect(ins.connect) : await linkFromParent();
  const parent = await system.attach(link);
  void parent.closed.then(() => leave(0, ORPHAN_DEADLINE_MS));
} catch (err) {
  process.stderr.write(`cannot link back to the parent: ${describe(err)}\n`);
  leave(1, ORPHAN_DEADLINE_MS);
}
