/** Operator requests from a test: to whichever replica is up, and the forced walk to a named step. */
import { OPERATOR_TOKEN } from '../env';
import type { Cluster } from './cluster';
import { send } from './http';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function operatorCall(cluster: Cluster, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  for (const r of cluster.replicas) {
    if (!r.alive) continue;
    const reply = await send(r.url, r.index, method, path, { token: OPERATOR_TOKEN, body, timeoutMs: 30_000 });
    if (reply.attempt.status !== 0) return { status: reply.attempt.status, body: reply.body };
  }
  throw new Error(`no replica answered ${method} ${path}`);
}

/** Polls `probe` until it returns a value, or throws after `timeoutMs`. */
export async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>, intervalMs = 300): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

/**
 * The historical sync, as every migration starts: a backfill run to its end (the flip into deprecation wants one, and
 * force cannot pass that). From its split on, the catch-up carries what is inserted above it.
 */
export async function completeBackfill(cluster: Cluster, timeoutMs = 60_000): Promise<void> {
  const started = await operatorCall(cluster, 'POST', '/migration/sync/backfill');
  if (started.status !== 202) throw new Error(`POST /migration/sync/backfill answered ${started.status}: ${JSON.stringify(started.body)}`);
  await until('the backfill to complete', timeoutMs, async () => {
    const sync = await operatorCall(cluster, 'GET', '/migration/sync');
    return sync.body?.backfill?.status === 'completed' && sync.body.catchup?.newIdsAfter ? true : undefined;
  });
}

/** Forced advances (each with its reason, as the audit log wants) until the migration is at `target`. */
export async function advanceTo(cluster: Cluster, target: string, timeoutMs = 60_000): Promise<void> {
  await until(`the migration to reach ${target}`, timeoutMs, async () => {
    const status = await operatorCall(cluster, 'GET', '/migration/status');
    if (status.status !== 200) throw new Error(`GET /migration/status answered ${status.status}: ${JSON.stringify(status.body)}`);
    if (status.body.step === target) return true;
    if (status.body.pendingMove) return undefined;
    const res = await operatorCall(cluster, 'POST', '/migration/advance', {
      reason: `history checker set-up: to ${target}`,
      expectedStep: status.body.step,
      force: true,
    });
    if (res.status !== 200 && res.status !== 202 && res.body?.code !== 'MOVE_IN_PROGRESS') {
      throw new Error(`advance from ${status.body.step} answered ${res.status}: ${JSON.stringify(res.body)}`);
    }
    return undefined;
  });
}
