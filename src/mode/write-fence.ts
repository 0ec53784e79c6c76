/**
 * The write fence: why no two writes to one conversation are ever acknowledged under different sources
 * of truth, whatever the number of API replicas.
 *
 * Every conversation write runs inside `write()`: one PostgreSQL transaction that first takes the fence in
 * shared mode (a transaction-scoped advisory lock), then reads the phase from migration_state (fresh, never
 * from a cache: a statement of its own, after the lock's, in the same round trip as the lock), then makes its
 * whole read-modify-write attempt under that phase, and commits before the write is acknowledged. Every change
 * of the phase runs inside `exclusive()`, which takes the same lock in exclusive mode in the transaction that
 * updates migration_state. Hence:
 * - a phase change waits until every write that began under the old phase has committed or failed, and no
 *   write begins until the change has committed: a write sees one phase from its first read to its commit,
 *   so the source of truth it read from, compared and set on is the one every other writer of that moment uses;
 * - a write is acknowledged only after its commit, and a commit proves the session (and so the lock) lived
 *   through the primary write: if the connection died on the way the commit fails and nothing is acknowledged
 *   (a legacy write that landed all the same is picked up by the cutover's final catch-up);
 * - writers never queue inside PostgreSQL behind a waiting phase change while holding a pool connection each
 *   (that would starve the change of the connections its own work needs): they try the lock, and while a
 *   change holds or awaits it they hand the connection back and retry after a short, growing pause, for at
 *   most WRITE_FENCE_WAIT_MS. PostgreSQL's lock manager refuses a shared request while an exclusive one is
 *   queued, so a steady stream of writes cannot starve a phase change either.
 * What a phase change does while it holds the fence (drain repairs, a final catch-up, reverse sync) is the
 * cutover's business (src/migration/cutover.ts); the fence guarantees only that no write is in flight meanwhile.
 */
import { DataSource, QueryRunner } from 'typeorm';
import { AdvisoryLock, beginLocked, SimpleQueryConnection, waitForTransactionLockWithin } from '../common/advisory-lock';
import { ConnectionWatch, ErrorEmitter, watchConnection } from '../common/connection-loss';
import { DomainError } from '../common/errors';
import type { MetricsService } from '../common/metrics/metrics.service';
import { isPhase, MigrationMode, modeForPhase } from '../model/phases';
import type { StoreTransaction } from '../stores/conversation-store.port';

/** What a fenced write works with: the phase it runs under and the transaction that holds the fence. */
export interface FencedWrite {
  readonly mode: MigrationMode;
  /** The fence's transaction: PostgreSQL writes made through it commit (or not) with the fence. */
  readonly q: QueryRunner;
}

export interface ExclusiveHold<T> {
  result: T;
  /** How long the change waited for writes in flight to finish. */
  waitedMs: number;
  /** How long it held the fence: the pause new writes saw. */
  heldMs: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * How long a change under the fence may still run: what is left of the patience of the writes it holds. A write waits
 * for the fence at most WRITE_FENCE_WAIT_MS (then 503), and the first of them may have started waiting when the change
 * asked for the fence; the change gives up a margin before that (its commit, and the writes' own retry pauses), so
 * that a write meeting a phase change waits, bounded, and is never answered 5xx for it (SPEC section 5).
 */
export class FenceBudget {
  /** What the change was doing when it last looked at the budget: a refusal past it names that step. */
  doing = 'starting';

  constructor(
    /** performance.now() at which the budget is spent. */
    readonly endsAt: number,
    /** The whole budget, ms (for messages). */
    readonly totalMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** ms left, never below 0. */
  leftMs(): number {
    return Math.max(0, this.endsAt - this.now());
  }

  /** Spent, or within `slackMs` of it (a wait bounded by what was left ends a moment early or late). */
  spent(slackMs = 0): boolean {
    return this.leftMs() <= slackMs;
  }
}

/** What a change under the fence leaves of WRITE_FENCE_WAIT_MS for its commit and the writes' retry pauses. */
export const fenceMarginMs = (fenceWaitMs: number) => Math.max(1000, Math.round(fenceWaitMs / 10));

const PHASE_QUERY = 'SELECT phase FROM migration_state WHERE id = 1';

function modeOf(rows: Array<Record<string, unknown>>): MigrationMode {
  const phase = rows[0]?.phase;
  if (typeof phase !== 'string' || !isPhase(phase)) throw new Error('migration_state is missing or corrupt: run the migrations');
  return modeForPhase(phase);
}

export async function readMode(q: StoreTransaction): Promise<MigrationMode> {
  return modeOf(await q.query(PHASE_QUERY));
}

/**
 * The fence opens its transaction in the message that takes the lock (beginLocked), not through TypeORM's
 * startTransaction, which would cost a round trip of its own. TypeORM is told (its one transaction level), so that
 * its commit and rollback end this transaction and anything run on the runner meanwhile nests in it.
 */
function adoptTransaction(q: QueryRunner): void {
  Object.assign(q, { isTransactionActive: true, transactionDepth: 1 });
}

export class WriteFence {
  private readonly waits;
  private readonly holds;

  constructor(
    private readonly dataSource: DataSource,
    private readonly maxWaitMs: number,
    metrics: MetricsService,
  ) {
    this.waits = metrics.histogram(
      'write_fence_wait_seconds',
      'How long a write waited for the fence (a phase change in progress)',
      [],
      [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    );
    this.holds = metrics.histogram(
      'write_fence_exclusive_seconds',
      'Phase changes: waiting for writes in flight, and holding the fence',
      ['stage'],
      [0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    );
  }

  /** Runs one write attempt under the fence; resolves after its commit. */
  async write<T>(attempt: (w: FencedWrite) => Promise<T>): Promise<T> {
    const started = performance.now();
    for (let round = 0; ; round++) {
      const q = this.dataSource.createQueryRunner();
      let watch: ConnectionWatch | null = null;
      try {
        const connection = (await q.connect()) as SimpleQueryConnection & ErrorEmitter;
        watch = watchConnection(connection);
        adoptTransaction(q);
        const { held, rows } = await beginLocked(connection, AdvisoryLock.WriteFence, 'shared', PHASE_QUERY);
        if (held) {
          this.waits.observe((performance.now() - started) / 1000);
          const result = await attempt({ mode: modeOf(rows), q });
          await q.commitTransaction();
          return result;
        }
        await q.rollbackTransaction();
      } catch (err) {
        if (q.isTransactionActive) await q.rollbackTransaction().catch(() => undefined);
        throw watch ? watch.explain(err) : err;
      } finally {
        watch?.detach();
        await q.release();
      }
      const waited = performance.now() - started;
      if (waited >= this.maxWaitMs) {
        this.waits.observe(waited / 1000);
        throw new DomainError('CUTOVER_IN_PROGRESS', 503, `A phase change has held writes for ${Math.round(waited)} ms; retry shortly`);
      }
      await sleep(Math.min(50, 1 + 2 ** round) * (0.5 + Math.random() / 2));
    }
  }

  /**
   * Runs `change` with no write in flight and none starting: waits (at most `lockTimeoutMs`) for the writes
   * that hold the fence to finish, runs `change` in the transaction that holds it, commits. `change` gets the
   * FenceBudget it must end within (counted from the request for the fence, which is when writes start waiting).
   */
  async exclusive<T>(change: (q: QueryRunner, budget: FenceBudget) => Promise<T>, lockTimeoutMs: number): Promise<ExclusiveHold<T>> {
    const q = this.dataSource.createQueryRunner();
    const watch = watchConnection((await q.connect()) as ErrorEmitter);
    try {
      await q.startTransaction();
      const t0 = performance.now();
      const total = this.maxWaitMs - fenceMarginMs(this.maxWaitMs);
      const budget = new FenceBudget(t0 + total, total);
      if (!(await waitForTransactionLockWithin(q, AdvisoryLock.WriteFence, lockTimeoutMs))) {
        throw new DomainError(
          'CUTOVER_TIMEOUT',
          409,
          `Writes in flight did not finish within ${lockTimeoutMs} ms; the phase did not change`,
        );
      }
      const t1 = performance.now();
      const result = await change(q, budget);
      await q.commitTransaction();
      const t2 = performance.now();
      this.holds.observe({ stage: 'wait' }, (t1 - t0) / 1000);
      this.holds.observe({ stage: 'hold' }, (t2 - t1) / 1000);
      return { result, waitedMs: t1 - t0, heldMs: t2 - t1 };
    } catch (err) {
      if (q.isTransactionActive) await q.rollbackTransaction().catch(() => undefined);
      throw watch.explain(err);
    } finally {
      watch.detach();
      await q.release();
    }
  }
}
