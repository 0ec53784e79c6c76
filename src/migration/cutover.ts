/**
 * The cutover: what a phase change that moves the source of truth, or starts or stops writing the other
 * store, does around its commit, as ghostferry does it (copy most of it live, then stop writes briefly,
 * copy the rest, verify, switch).
 *
 * `prepare` runs before the move commits, while the application writes: it settles the backlog of follow-ups
 * (and, into deprecation, runs a catch-up pass; out of it, compares every conversation written since the
 * flip and copies the new store's version of each that differs to legacy), so that little is left for the
 * fenced part. Into deprecation it first takes the catch-up pass lock, waiting at most CUTOVER_LOCK_TIMEOUT_MS
 * for a pass running elsewhere (then 409 CUTOVER_FAILED, nothing changed), and holds it until the move is done:
 * the fenced part's pass then never waits for one (a worker frozen or gone silent in the middle of a pass would
 * otherwise hold every write of the deployment).
 * `fenced` runs in the move's commit transaction, holding the write fence exclusively (src/mode/write-fence.ts):
 * no write is in flight and none starts until the commit. With the stores quiet it
 * - settles every follow-up still in the outbox, in the terms of the phase being left (its source of truth,
 *   no grace periods: nothing is in flight);
 * - into deprecation: runs a final catch-up pass, so the new store also holds legacy writes nobody
 *   acknowledged (a replica that died between its legacy write and its commit) and the legacy
 *   application's last writes;
 * - out of deprecation: copies again every conversation `prepare` left different, then compares, in canonical
 *   form, each of those and each it settled, and refuses the move (ROLLBACK_NOT_PROVEN, the phase stays) if
 *   one still differs: legacy holds every write made since the flip before it is the source of truth again.
 * The pause writes see is the time `fenced` takes plus the wait for the writes in flight; both are measured
 * (write_fence_exclusive_seconds) and written into the move's audit entry. Both together stay within the fence's
 * budget (FenceBudget: WRITE_FENCE_WAIT_MS less a margin, from the request for the fence): `fenced` looks at it
 * between its steps and bounds its lock waits by what is left, and past it refuses the move (409 CUTOVER_FAILED,
 * nothing changed) before a write it holds would give up with 503. A store that stops answering in the middle (a
 * frozen server keeps its connections and answers nothing) cannot hold it past the budget either: the fenced half
 * races a timer set to the budget's end, and the move is refused when the timer wins. What it was waiting for is
 * left to end on its own (every write it makes is version-guarded, so a late one is a repair), except the settles'
 * transactions, which roll back at that end (their connections are the requests' pool's); the catch-up pass lock
 * stays held until then, so that no other pass runs beside a pass given up on.
 */
import { Inject, Injectable, Logger } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { canonicalJson } from '../model/canonical';
import { isLockTimeout } from '../common/advisory-lock';
import { DomainError } from '../common/errors';
import { forEachLimit } from '../common/for-each-limit';
import { POSTGRES_OUTBOX, RepairService } from '../repair/repair.service';
import type { OutboxRow, PostgresRepairOutbox } from '../repair/repair-outbox';
import { ConversationStore, LEGACY_STORE, NEW_STORE, StoreTransaction, TransactionalStore } from '../stores/conversation-store.port';
import { DATA_SOURCE } from '../stores/stores.module';
import { CatchupService, HeldPassLock } from '../sync/catchup/catchup.service';
import type { Position } from './domain/phase-plan';
import { MigrationMode, modeForPhase } from '../model/phases';
import { MIGRATION_CONFIG, MigrationConfig } from './migration.config';
import type { FenceBudget } from '../mode/write-fence';

/** What `prepare` found and `fenced` must look at again. */
export interface CutoverPlan {
  kind: 'into_new' | 'back_to_legacy' | 'stop_dual_write';
  /** Conversations `prepare` found different (possibly only for a moment) between the stores. */
  recheck: string[];
  prepared: { settled: number; compared: number; copied: number; caughtUp: number };
}

/**
 * What `prepare` hands the fenced half: its plan and, into the new store, the catch-up pass lock, held from its last
 * pass until `release` (after the move committed or was refused), so that the pass under the fence never waits for
 * one elsewhere.
 */
export interface PreparedCutover {
  plan: CutoverPlan;
  catchup: HeldPassLock | null;
  release(): Promise<void>;
}

export interface CutoverReport {
  settled: number;
  caughtUp: number;
  verified: number;
  different: string[];
}

const PAGE = 500;
const CONCURRENCY = 16;
/**
 * How far before the flip `updated_at` may lie and still be a write made since it (replica clocks differ by
 * milliseconds under NTP; a write that still fell outside would be in the outbox, which the fenced half settles).
 */
const CLOCK_SKEW_MS = 5_000;
/** Settle rounds before the fence until the backlog is this small (or stops shrinking). */
const PREPARED_BACKLOG = 200;
/** Ids of differences a refusal names. */
const NAMED = 20;
/** A lock wait bounded by the budget's rest ends this close to its end or later: the budget was the bound. */
const BUDGET_SLACK_MS = 100;

export function cutoverKind(from: Position, to: Position): CutoverPlan['kind'] | null {
  const [a, b] = [modeForPhase(from.phase), modeForPhase(to.phase)];
  if (a.sourceOfTruth === 'legacy' && b.sourceOfTruth === 'new') return 'into_new';
  if (a.sourceOfTruth === 'new' && b.sourceOfTruth === 'legacy') return 'back_to_legacy';
  if (a.dualWrite && !b.dualWrite) return 'stop_dual_write';
  return null;
}

@Injectable()
export class Cutover {
  private readonly logger = new Logger('Cutover');

  constructor(
    @Inject(DATA_SOURCE) private readonly dataSource: DataSource,
    @Inject(POSTGRES_OUTBOX) private readonly outbox: PostgresRepairOutbox,
    private readonly repairs: RepairService,
    private readonly catchup: CatchupService,
    @Inject(NEW_STORE) private readonly newStore: TransactionalStore,
    @Inject(LEGACY_STORE) private readonly legacy: ConversationStore,
    @Inject(MIGRATION_CONFIG) private readonly config: MigrationConfig,
  ) {}

  /** Fenced halves given up on (past the budget) that are still waiting for a store; each ends on its own. */
  private readonly lingering = new Set<Promise<void>>();

  /** Before the commit, while writes go on. Null when the move needs no cutover. */
  async prepare(from: Position, to: Position, flippedAt: Date | null): Promise<PreparedCutover | null> {
    const kind = cutoverKind(from, to);
    if (!kind) return null;
    // As long as the fence waits for the writes in flight: a phase change gives up on what holds it up alike.
    const waitMs = this.config.cutoverLockTimeoutMs;
    const catchup = kind === 'into_new' ? await this.catchup.holdPassLock(waitMs) : null;
    if (kind === 'into_new' && !catchup) {
      throw new DomainError(
        'CUTOVER_FAILED',
        409,
        `A catch-up pass running elsewhere did not finish within ${waitMs} ms, and the cutover needs a pass of its own; the phase did not change. Retry once no pass is running (docs/runbook.md)`,
      );
    }
    const release = async () => {
      const lingering = [...this.lingering];
      if (!catchup || lingering.length === 0) return catchup?.release();
      // A fenced half given up on may still be in a pass under the lock: the lock is given up when that ends.
      void Promise.allSettled(lingering)
        .then(() => catchup.release())
        .catch((err: Error) => this.logger.warn({ msg: 'the catch-up pass lock could not be given up', error: err.message }));
    };
    try {
      const settled = await this.settleBacklog();
      let caughtUp = 0;
      let compared = 0;
      let copied = 0;
      let recheck: string[] = [];
      if (catchup) caughtUp = await this.catchUp(catchup, 'cutover-prepare', false);
      if (kind === 'back_to_legacy') ({ compared, copied, different: recheck } = await this.compareSince(flippedAt));
      const plan: CutoverPlan = { kind, recheck, prepared: { settled, compared, copied, caughtUp } };
      this.logger.log({ msg: 'cutover prepared', ...plan, recheck: recheck.length });
      return { plan, catchup, release };
    } catch (err) {
      await release();
      throw err;
    }
  }

  /**
   * In the commit transaction, holding the write fence exclusively; `catchup`: the pass lock `prepare` took (into the
   * new store). Throws to refuse the move.
   */
  async fenced(
    plan: CutoverPlan,
    leaving: MigrationMode,
    _q: StoreTransaction,
    catchup: HeldPassLock | null,
    budget: FenceBudget,
  ): Promise<CutoverReport> {
    if (plan.kind === 'into_new' && !catchup)
      throw new Error('a cutover into the new store runs its fenced pass under the lock its prepare took');
    const steps = this.fencedSteps(plan, leaving, catchup, budget);
    return this.beforeBudgetEnds(budget, steps, () => this.linger(steps, budget));
  }

  /**
   * `work`, or the refusal of the move once the budget has ended (and the slack its bounded lock waits end in) while a
   * store has not answered; `gaveUp` is called then. What `work` waits for is not cancelled: it ends on its own.
   */
  private async beforeBudgetEnds<T>(budget: FenceBudget, work: Promise<T>, gaveUp?: () => void): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        gaveUp?.();
        reject(this.outOfTime(budget, `${budget.doing}, waiting for a store that did not answer`));
      }, budget.leftMs() + BUDGET_SLACK_MS);
    });
    try {
      return await Promise.race([work, timedOut]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Keeps track of a fenced half that may still be waiting for a store once the move was refused. */
  private linger(steps: Promise<CutoverReport>, budget: FenceBudget): void {
    const started = performance.now();
    const ended = steps.then(
      () => undefined,
      (err: Error) => err,
    );
    const lingering = ended.then((err) => {
      this.lingering.delete(lingering);
      const afterMs = Math.round(performance.now() - started);
      this.logger.warn({ msg: 'the fenced half of a refused move has ended', step: budget.doing, afterMs, error: err?.message });
    });
    this.lingering.add(lingering);
    this.logger.warn({ msg: 'the fenced half ran out of its budget waiting for a store; the move is refused', step: budget.doing });
  }

  private async fencedSteps(
    plan: CutoverPlan,
    leaving: MigrationMode,
    catchup: HeldPassLock | null,
    budget: FenceBudget,
  ): Promise<CutoverReport> {
    const settledIds = await this.settleAll(leaving, budget);
    const caughtUp = catchup && plan.kind === 'into_new' ? await this.catchUp(catchup, 'cutover', true, budget) : 0;
    let verified = 0;
    let different: string[] = [];
    if (plan.kind === 'back_to_legacy') {
      await forEachLimit(plan.recheck, CONCURRENCY, async (id) => {
        this.withinBudget(budget, 'copying to legacy what differed');
        await this.repairs.repair(id, 'new', { mode: leaving, settled: true });
      });
      const ids = [...new Set([...settledIds, ...plan.recheck])];
      verified = ids.length;
      different = await this.differing(ids, budget);
      if (different.length > 0) {
        throw new DomainError(
          'ROLLBACK_NOT_PROVEN',
          409,
          `Legacy is not level with the new store for ${different.length} conversation(s) written since the flip (${different.slice(0, NAMED).join(', ')}${different.length > NAMED ? ', ...' : ''}); the source of truth stays new. Run a verification to see the differences.`,
        );
      }
    }
    return { settled: settledIds.length, caughtUp, verified, different };
  }

  /** Settles outbox rows while writes go on, until few are left or the backlog stops shrinking. */
  private async settleBacklog(): Promise<number> {
    let settled = 0;
    for (let pass = 0, before = Infinity; pass < 10; pass++) {
      const rows = await this.outbox.rowsAfter('0', 10_000);
      if (rows.length <= PREPARED_BACKLOG || rows.length >= before) break;
      before = rows.length;
      await forEachLimit(groupRows(rows), CONCURRENCY, async (e) => {
        await this.repairs
          .settle(e)
          .catch((err: Error) =>
            this.logger.warn({ msg: 'follow-up left for the fenced cutover', conversationId: e.conversationId, error: err.message }),
          );
      });
      settled += rows.length;
    }
    return settled;
  }

  /**
   * Every row in the outbox, settled in the terms of the phase being left; returns the conversations. Each settle
   * runs in a transaction of its own whose lock waits are bounded (lockBounded): a conversation's row held elsewhere
   * refuses the move rather than hold every write until the statement timeout.
   */
  private async settleAll(leaving: MigrationMode, budget: FenceBudget): Promise<string[]> {
    const ids = new Set<string>();
    for (let after = '0'; ;) {
      this.withinBudget(budget, 'settling follow-ups');
      const rows = await this.outbox.rowsAfter(after, PAGE);
      if (rows.length === 0) return [...ids];
      after = rows[rows.length - 1].id;
      await forEachLimit(groupRows(rows), CONCURRENCY, async (e) => {
        await this.lockBounded('settle', budget, (tx) => this.repairs.settle(e, { mode: leaving, settled: true, tx }));
        ids.add(e.conversationId);
      });
    }
  }

  /**
   * `fn` in a transaction that waits for a lock at most CUTOVER_LOCK_TIMEOUT_MS (refused as lockRefusal says), and
   * no longer than the fence's budget has left (refused as outOfTime says).
   */
  private lockBounded<T>(what: string, budget: FenceBudget, fn: (tx: StoreTransaction) => Promise<T>): Promise<T> {
    this.withinBudget(budget, `the ${what}`);
    const ms = Math.min(this.config.cutoverLockTimeoutMs, budget.leftMs());
    return this.dataSource
      .transaction(async (m) => {
        await m.query(`SET LOCAL lock_timeout = ${Math.max(1, Math.floor(ms))}`);
        // A store that stops answering holds this transaction, and its connection of the requests' pool, no longer
        // than the budget: refused, it rolls back, and a late answer finds it ended.
        return this.beforeBudgetEnds(budget, fn(m));
      })
      .catch((err: unknown) => {
        if (!isLockTimeout(err)) throw err;
        throw budget.spent(BUDGET_SLACK_MS)
          ? this.outOfTime(budget, `the ${what} waited for a conversation's row`)
          : this.lockRefusal(what);
      });
  }

  /** Throws outOfTime once the budget is spent. */
  private withinBudget(budget: FenceBudget, what: string): void {
    budget.doing = what;
    if (budget.spent()) throw this.outOfTime(budget, what);
  }

  /** The refusal of a move whose fenced half would have held writes longer than they wait (FenceBudget). */
  private outOfTime(budget: FenceBudget, what: string): DomainError {
    return new DomainError(
      'CUTOVER_FAILED',
      409,
      `The cutover under the write fence ran out of its ${budget.totalMs} ms (writes wait at most WRITE_FENCE_WAIT_MS for it) at: ${what}; the phase did not change and no write failed. Retry when the stores answer faster or less is left to copy (docs/runbook.md)`,
    );
  }

  /** The refusal of a move whose cutover waited CUTOVER_LOCK_TIMEOUT_MS for a conversation's row held elsewhere. */
  private lockRefusal(what: string): DomainError {
    return new DomainError(
      'CUTOVER_FAILED',
      409,
      `A conversation the cutover's ${what} must write was locked by another session for more than ${this.config.cutoverLockTimeoutMs} ms (a sync batch that froze in its transaction holds its rows); the phase did not change. Retry once that session ended (docs/runbook.md)`,
    );
  }

  /**
   * Catch-up passes under the held lock until one reads to the end; returns documents written. A row they must
   * write that another session holds longer than CUTOVER_LOCK_TIMEOUT_MS (a sync batch frozen in its transaction)
   * refuses the move (lockRefusal), as the pass lock does: under the fence every write of the deployment waits.
   */
  private async catchUp(lock: HeldPassLock, trigger: string, urgent: boolean, budget?: FenceBudget): Promise<number> {
    const lockTimeoutMs = this.config.cutoverLockTimeoutMs;
    const timeLeftMs = budget && (() => budget.leftMs());
    let written = 0;
    for (let pass = 0; pass < 20; pass++) {
      if (budget) this.withinBudget(budget, 'the final catch-up');
      const r = await lock.pass(trigger, { urgent, lockTimeoutMs, timeLeftMs }).catch((err: unknown) => {
        if (!isLockTimeout(err)) throw err;
        throw budget?.spent(BUDGET_SLACK_MS)
          ? this.outOfTime(budget, "the final catch-up waited for a conversation's row")
          : this.lockRefusal('catch-up');
      });
      if (!('exhausted' in r)) {
        if (!urgent) return written;
        throw new DomainError(
          'CUTOVER_FAILED',
          409,
          `The cutover's final catch-up pass could not run (${r.skipped}); the phase did not change`,
        );
      }
      written += r.written;
      if (r.exhausted) return written;
    }
    throw new DomainError(
      'CUTOVER_FAILED',
      409,
      'The final catch-up did not reach the end of the legacy changes; the phase did not change',
    );
  }

  /**
   * Every conversation written to the new store since the flip, compared with legacy. One that differs with a
   * follow-up still in the outbox is left to the fenced half (which settles and compares it); one that differs
   * without is copied to legacy now (fenced repair rounds, as writes go on). Returns the ids to look at again.
   */
  private async compareSince(flippedAt: Date | null): Promise<{ compared: number; copied: number; different: string[] }> {
    if (!flippedAt) return { compared: 0, copied: 0, different: [] };
    const since = new Date(flippedAt.getTime() - CLOCK_SKEW_MS);
    let compared = 0;
    let copied = 0;
    const different: string[] = [];
    for (let after = ''; ;) {
      const rows: Array<{ id: string }> = await this.dataSource.query(
        'SELECT id FROM conversations WHERE updated_at >= $1 AND id > $2 ORDER BY id LIMIT $3',
        [since, after, PAGE],
      );
      if (rows.length === 0) return { compared, copied, different };
      after = rows[rows.length - 1].id;
      compared += rows.length;
      const differ = await this.differing(rows.map((r) => r.id));
      const following = await this.withFollowUps(differ);
      const stray = differ.filter((id) => !following.has(id));
      await forEachLimit(stray, CONCURRENCY, async (id) => {
        if ((await this.repairs.repair(id, 'new').catch(() => 'failed')) === 'repaired') copied++;
      });
      different.push(...following, ...(await this.differing(stray)));
    }
  }

  private async withFollowUps(ids: readonly string[]): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    const rows: Array<{ id: string }> = await this.dataSource.query(
      'SELECT DISTINCT conversation_id AS id FROM repair_outbox WHERE conversation_id = ANY($1)',
      [ids],
    );
    return new Set(rows.map((r) => r.id));
  }

  private async differing(ids: readonly string[], budget?: FenceBudget): Promise<string[]> {
    const out: string[] = [];
    for (let i = 0; i < ids.length; i += PAGE) {
      if (budget) this.withinBudget(budget, 'comparing the stores');
      const page = ids.slice(i, i + PAGE);
      const next = new Map((await this.newStore.getMany(page)).map((c) => [c.id, canonicalJson(c)]));
      await forEachLimit(page, 32, async (id) => {
        const l = await this.legacy.get(id);
        if ((l ? canonicalJson(l) : undefined) !== next.get(id)) out.push(id);
      });
    }
    return out.sort();
  }
}

/** One entry per conversation and source, standing for all of its rows. */
function groupRows(rows: readonly OutboxRow[]) {
  const groups = new Map<string, { conversationId: string; source: OutboxRow['source']; reason: string; outboxIds: string[] }>();
  for (const r of rows) {
    const key = `${r.conversationId} ${r.source}`;
    const g = groups.get(key) ?? { conversationId: r.conversationId, source: r.source, reason: r.reason, outboxIds: [] };
    g.outboxIds.push(r.id);
    groups.set(key, g);
  }
  return [...groups.values()];
}
