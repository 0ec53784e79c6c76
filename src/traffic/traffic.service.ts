/**
 * Every traffic change goes through an intent log (the `traffic_changes` table):
 *   intent     written before the provider is called, with the weights before and after;
 *   submitted  the provider accepted the change (its change id recorded);
 *   done       the provider reports it in effect and the weights read back are the ones asked for;
 *   failed     nothing changed (the provider refused it, or the weights read back are still the old ones);
 *   undone     it could not be completed and the weights before it were put back.
 * The change itself runs in a `traffic` job (`execute`), so it finishes even if the API process that
 * asked for it goes away; a worker that starts finds open intents and carries them on (`openIntents`).
 */
import { Inject, Injectable, Logger } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { DomainError } from '../common/errors';
import { DATA_SOURCE } from '../stores/stores.module';
import {
  checkWeights,
  InvalidWeightsError,
  sameWeights,
  TRAFFIC_ROUTER,
  TrafficRouter,
  TrafficState,
  Weights,
} from './traffic-router.port';
import { TRAFFIC_CONFIG, TrafficConfig } from './traffic.config';
import { TrafficQueue } from './traffic.queue';

export type TrafficChangeKind = 'weights' | 'retire_legacy';
export type TrafficChangeState = 'intent' | 'submitted' | 'done' | 'failed' | 'undone';
export const TERMINAL_STATES: readonly TrafficChangeState[] = ['done', 'failed', 'undone'];
/** The states a change moves out of (SQL); every transition is guarded by it. */
const OPEN = `('intent', 'submitted')`;

/** One run of `execute`: the change and the claim (`attempts`) it made on it. */
interface Run {
  id: number;
  attempt: number;
}

export interface TrafficChange {
  id: number;
  kind: TrafficChangeKind;
  requestedAt: string;
  provider: string;
  weights: Weights;
  before: Weights | null;
  state: TrafficChangeState;
  changeId: string | null;
  attempts: number;
  completedAt: string | null;
  error: string | null;
  /** The phase move this change belongs to, committed only when the change is done. */
  move: Record<string, unknown> | null;
}

type Row = {
  id: string;
  kind: TrafficChangeKind;
  requested_at: Date;
  provider: string;
  legacy_weight: number;
  new_weight: number;
  before_legacy: number | null;
  before_new: number | null;
  state: TrafficChangeState;
  change_id: string | null;
  attempts: number;
  completed_at: Date | null;
  error: string | null;
  move: Record<string, unknown> | null;
};

const toChange = (r: Row): TrafficChange => ({
  id: Number(r.id),
  kind: r.kind,
  requestedAt: r.requested_at.toISOString(),
  provider: r.provider,
  weights: { legacy: r.legacy_weight, new: r.new_weight },
  before: r.before_legacy === null || r.before_new === null ? null : { legacy: r.before_legacy, new: r.before_new },
  state: r.state,
  changeId: r.change_id,
  attempts: r.attempts,
  completedAt: r.completed_at?.toISOString() ?? null,
  error: r.error,
  move: r.move,
});

const describe = (w: Weights | null) => (w ? `legacy ${w.legacy} / new ${w.new}` : 'unknown');

export class TrafficChangeFailedError extends DomainError {
  constructor(readonly change: TrafficChange) {
    super(
      'TRAFFIC_CHANGE_FAILED',
      502,
      `Traffic change ${change.id} to ${describe(change.weights)} ${change.state === 'undone' ? 'was undone' : 'failed'}: ${change.error}; the phase is unchanged`,
    );
  }
}

export interface TrafficRequest {
  kind: TrafficChangeKind;
  weights: Weights;
  before: Weights | null;
  move?: Record<string, unknown>;
}

@Injectable()
export class TrafficService {
  private readonly logger = new Logger('TrafficService');

  constructor(
    @Inject(TRAFFIC_ROUTER) private readonly router: TrafficRouter,
    @Inject(DATA_SOURCE) private readonly dataSource: DataSource,
    @Inject(TrafficQueue) private readonly queue: TrafficQueue,
    @Inject(TRAFFIC_CONFIG) private readonly config: TrafficConfig,
  ) {}

  /** The weighted records' TTL: how long resolvers may keep answering with the weights before a change. */
  get recordTtlMs(): number {
    return this.config.ttl * 1000;
  }

  get provider(): string {
    return this.router.provider;
  }

  /** Validates, writes the intent, and queues its job. Bad weights are a 400 and nothing is written. */
  async request(req: TrafficRequest): Promise<TrafficChange> {
    try {
      checkWeights(req.weights);
    } catch (err) {
      if (err instanceof InvalidWeightsError) throw new DomainError(err.code, 400, err.message);
      throw err;
    }
    const [row]: Row[] = await this.dataSource.query(
      `INSERT INTO traffic_changes (provider, kind, legacy_weight, new_weight, before_legacy, before_new, move, state)
       VALUES ($1, $2, $3, $4, $5, $6, $7, 'intent') RETURNING *`,
      [
        this.router.provider,
        req.kind,
        req.weights.legacy,
        req.weights.new,
        req.before?.legacy ?? null,
        req.before?.new ?? null,
        req.move ? JSON.stringify(req.move) : null,
      ],
    );
    const change = toChange(row);
    await this.queue.enqueue(change.id, change.requestedAt);
    return change;
  }

  /** Polls the intent until it is terminal or `timeoutMs` passes; returns its latest state. */
  async waitFor(id: number, timeoutMs: number, pollMs = 100): Promise<TrafficChange> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const change = await this.get(id);
      if (!change) throw new Error(`traffic change ${id} does not exist`);
      if (TERMINAL_STATES.includes(change.state) || Date.now() >= deadline) return change;
      await new Promise((resolve) => setTimeout(resolve, pollMs));
    }
  }

  /**
   * Carries one intent to a terminal state (the `traffic` job). Safe to run again after a crash at any
   * point: on its first run an `intent` whose weights are already in effect is not sent; a re-run sends the batch
   * again (same weights, a new fence), then waits for it and checks.
   *
   * Safe as well when two workers run it at once: one stalled past its job lock (a long pause, a swapped-out
   * VM) while another took the job over, finished it, and later changes followed. The stalled one may wake at
   * any point. Each run claims the change (its `attempts` number): a run moves the log only while its claim is the
   * latest and the change open, so a run that was taken over writes nothing there, and gives up without touching
   * the provider. What it sends to the provider carries the fence it read before deciding, which the batches sent
   * since have replaced, so the provider refuses it; and it puts weights back only over a change of its own.
   */
  async execute(id: number): Promise<TrafficChange> {
    const row = await this.get(id);
    if (!row) throw new Error(`traffic change ${id} does not exist`);
    if (TERMINAL_STATES.includes(row.state)) return row;
    const [claimed]: [Row[], number] = await this.dataSource.query(
      `UPDATE traffic_changes SET attempts = attempts + 1, updated_at = now() WHERE id = $1 AND state IN ${OPEN} RETURNING attempts`,
      [id],
    );
    // Finished between the read and the claim: nothing left to do.
    if (claimed.length === 0) return (await this.get(id)) ?? row;
    const run: Run = { id, attempt: claimed[0].attempts };
    const target = row.weights;
    try {
      if (row.kind === 'retire_legacy') {
        const applied = await this.router.retireLegacy(id);
        return await this.finish(run, 'done', applied.changeId, null);
      }
      let changeId = row.changeId;
      // A re-run (this change was claimed before) sends its batch again even when its weights are in effect or were
      // submitted: the batch replaces the fence, so the run before it, should it still be alive, can send nothing more.
      const rerun = run.attempt > 1;
      if (row.state === 'intent' || rerun) {
        const seen = await this.router.state();
        if (seen.fence?.changeId != null && seen.fence.changeId > id) {
          return await this.finish(
            run,
            'failed',
            null,
            `a later traffic change (${seen.fence.changeId}) has been made since; this one is superseded`,
          );
        }
        if (rerun || !sameWeights(seen.weights, target)) {
          changeId = (await this.router.submit(target, { from: seen.fence, changeId: id })).changeId;
          await this.dataSource.query(
            `UPDATE traffic_changes SET state = 'submitted', change_id = $2, updated_at = now()
             WHERE id = $1 AND state IN ${OPEN} AND attempts = $3`,
            [id, changeId, run.attempt],
          );
        }
      }
      await this.router.settle({ changeId }, target);
      return await this.finish(run, 'done', changeId, null);
    } catch (err) {
      const reason = (err as Error).message;
      this.logger.warn({ msg: 'traffic change could not be completed', id, kind: row.kind, error: reason });
      return this.giveUp(row, run, reason);
    }
  }

  /**
   * The change could not be completed: find out what is in effect. Still the old weights: `failed`.
   * Anything else: put the old weights back (`undone`), if this change is what the fence says last wrote them;
   * if even that fails, `failed` with both reasons and the weights as last read, for an operator. A change that
   * another worker has meanwhile finished, or taken over (its claim is newer), is left to that worker.
   */
  private async giveUp(row: TrafficChange, run: Run, reason: string): Promise<TrafficChange> {
    // What is in effect first, the claim then: a run that claims the change after this look re-sends its batch,
    // which replaces the fence this put-back would present.
    let seen: TrafficState | null = null;
    let unreadable: Error | null = null;
    try {
      seen = await this.router.state();
    } catch (err) {
      unreadable = err as Error;
    }
    const latest = await this.get(row.id);
    if (latest && (TERMINAL_STATES.includes(latest.state) || latest.attempts !== run.attempt)) {
      this.logger.warn({
        msg: 'traffic change finished or taken over by another worker meanwhile; left to it',
        id: row.id,
        state: latest.state,
        attempt: run.attempt,
        latestAttempt: latest.attempts,
      });
      return latest;
    }
    if (!seen) return this.finish(run, 'failed', null, `${reason}; the weights in effect could not be read (${unreadable?.message})`);
    const current = seen.weights;
    if (row.kind === 'retire_legacy' || row.before === null || sameWeights(current, row.before)) {
      return this.finish(run, 'failed', null, `${reason}; weights in effect: ${describe(current)}`);
    }
    if (seen.fence && seen.fence.changeId !== row.id) {
      return this.finish(
        run,
        'failed',
        null,
        `${reason}; weights in effect: ${describe(current)}, written by ${seen.fence.changeId === null ? 'another change' : `traffic change ${seen.fence.changeId}`}, so not put back`,
      );
    }
    try {
      await this.router.apply(row.before, { from: seen.fence, changeId: row.id });
      return this.finish(run, 'undone', null, `${reason}; weights put back to ${describe(row.before)}`);
    } catch (err) {
      return this.finish(
        run,
        'failed',
        null,
        `${reason}; putting back ${describe(row.before)} also failed (${(err as Error).message}); weights last read: ${describe(current)}`,
      );
    }
  }

  /**
   * Moves an open change to `state`, if `run`'s claim is still the latest; a change another worker finished or
   * took over meanwhile is returned as it is.
   */
  private async finish(run: Run, state: TrafficChangeState, changeId: string | null, error: string | null): Promise<TrafficChange> {
    const [rows]: [Row[], number] = await this.dataSource.query(
      `UPDATE traffic_changes SET state = $2, change_id = COALESCE($3, change_id), error = $4, completed_at = now(), updated_at = now()
       WHERE id = $1 AND state IN ${OPEN} AND attempts = $5 RETURNING *`,
      [run.id, state, changeId, error?.slice(0, 1000) ?? null, run.attempt],
    );
    if (rows.length > 0) return toChange(rows[0]);
    const left = await this.get(run.id);
    if (!left) throw new Error(`traffic change ${run.id} does not exist`);
    this.logger.warn({
      msg: 'traffic change finished or taken over by another worker; its outcome stands',
      id: run.id,
      state: left.state,
      wanted: state,
      attempt: run.attempt,
      latestAttempt: left.attempts,
    });
    return left;
  }

  async get(id: number): Promise<TrafficChange | null> {
    const rows: Row[] = await this.dataSource.query('SELECT * FROM traffic_changes WHERE id = $1', [id]);
    return rows.length > 0 ? toChange(rows[0]) : null;
  }

  /** Intents not yet done, failed or undone, oldest first. */
  async openIntents(): Promise<TrafficChange[]> {
    const rows: Row[] = await this.dataSource.query(`SELECT * FROM traffic_changes WHERE state IN ('intent', 'submitted') ORDER BY id`);
    return rows.map(toChange);
  }

  /** How many changes are open, and the age of the oldest (0 when none): what the "stuck change" alert reads. */
  async openSummary(): Promise<{ open: number; oldestAgeSeconds: number }> {
    const [row] = await this.dataSource.query(
      `SELECT count(*)::int AS open, coalesce(extract(epoch FROM clock_timestamp() - min(requested_at)), 0)::float8 AS age
       FROM traffic_changes WHERE state IN ('intent', 'submitted')`,
    );
    return { open: row.open, oldestAgeSeconds: row.age };
  }

  /** The latest change that belongs to the move claimed at `claimedRevision`. */
  async forMove(claimedRevision: number): Promise<TrafficChange | null> {
    const rows: Row[] = await this.dataSource.query(
      `SELECT * FROM traffic_changes WHERE (move->>'claimedRevision')::int = $1 ORDER BY id DESC LIMIT 1`,
      [claimedRevision],
    );
    return rows.length > 0 ? toChange(rows[0]) : null;
  }

  /** Makes sure the intent has a live job; true when it had none and got one. */
  async enqueue(change: TrafficChange): Promise<boolean> {
    return this.queue.enqueue(change.id, change.requestedAt);
  }

  async last(): Promise<TrafficChange | null> {
    const rows: Row[] = await this.dataSource.query('SELECT * FROM traffic_changes ORDER BY id DESC LIMIT 1');
    return rows.length > 0 ? toChange(rows[0]) : null;
  }

  async history(limit = 100, offset = 0): Promise<{ total: number; items: TrafficChange[] }> {
    const [{ n }] = await this.dataSource.query('SELECT count(*)::int AS n FROM traffic_changes');
    const rows: Row[] = await this.dataSource.query('SELECT * FROM traffic_changes ORDER BY id DESC LIMIT $1 OFFSET $2', [limit, offset]);
    return { total: n, items: rows.map(toChange) };
  }
}
