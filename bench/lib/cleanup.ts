/**
 * Clean-up actions (drop the bench databases, close the API) that must run even when the run is
 * interrupted: run.ts calls runCleanups() at the end and on SIGINT / SIGTERM.
 */
import { progress } from './log';

let stop = false;

/** Asked to stop (a signal): load generators start no new operations. */
export function requestStop(): void {
  stop = true;
}

export function stopRequested(): boolean {
  return stop;
}

const actions = new Map<number, { name: string; fn: () => Promise<void> }>();
/** Actions that outlive one scenario (a data set shared by several): run at the end of the whole run. */
const runActions = new Map<number, { name: string; fn: () => Promise<void> }>();
let nextId = 0;

/** Registers an action; the returned function runs it now (once) and unregisters it. */
export function onCleanup(name: string, fn: () => Promise<void>): () => Promise<void> {
  const id = nextId++;
  actions.set(id, { name, fn });
  return async () => {
    if (!actions.delete(id)) return;
    await fn();
  };
}

/**
 * Like onCleanup, but for something several scenarios of one run share (e.g. a seeded data set):
 * runCleanups() leaves it alone unless called with `{ endOfRun: true }` (the end of the run, a signal).
 */
export function onRunCleanup(name: string, fn: () => Promise<void>): () => Promise<void> {
  const id = nextId++;
  runActions.set(id, { name, fn });
  return async () => {
    if (!runActions.delete(id)) return;
    await fn();
  };
}

let chain: Promise<void> = Promise.resolve();

/**
 * Runs every pending action, newest first; failures are reported, not thrown. Calls are serialised:
 * a call made while another one (e.g. from a signal handler) is running waits for it, so whoever
 * exits the process after awaiting this knows that every clean-up has finished.
 */
export function runCleanups(options: { endOfRun?: boolean } = {}): Promise<void> {
  chain = chain.then(async () => {
    const pending = [...actions.entries()].reverse();
    actions.clear();
    if (options.endOfRun) {
      pending.push(...[...runActions.entries()].reverse());
      runActions.clear();
    }
    for (const [, { name, fn }] of pending) {
      try {
        await fn();
      } catch (err) {
        progress('cleanup', `${name} failed: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  });
  return chain;
}
