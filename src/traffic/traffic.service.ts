/**
 * Every weight change goes through an intent log: the intent is written before the provider is
 * called and marked done (with the provider's change id) or failed after, so `status` and `history`
 * always say what was asked, what happened, and why not.
 */
import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { DomainError } from '../common/errors';
import { DATA_SOURCE } from '../stores/stores.module';
import { checkWeights, InvalidWeightsError, TRAFFIC_ROUTER, TrafficRouter, Weights } from './traffic-router.port';

export interface TrafficChange {
  id: number;
  requestedAt: string;
  provider: string;
  weights: Weights;
  state: 'intent' | 'submitted' | 'done' | 'failed' | 'undone';
  changeId: string | null;
  completedAt: string | null;
  error: string | null;
}

type Row = { id: string; requested_at: Date; provider: string; legacy_weight: number; new_weight: number; state: TrafficChange['state']; change_id: string | null; completed_at: Date | null; error: string | null };

const toChange = (r: Row): TrafficChange => ({
  id: Number(r.id),
  requestedAt: r.requested_at.toISOString(),
  provider: r.provider,
  weights: { legacy: r.legacy_weight, new: r.new_weight },
  state: r.state,
  changeId: r.change_id,
  completedAt: r.completed_at?.toISOString() ?? null,
  error: r.error,
});

export class TrafficChangeFailedError extends DomainError {
  constructor(readonly change: TrafficChange) {
    super('TRAFFIC_CHANGE_FAILED', 502, `Traffic change to legacy ${change.weights.legacy} / new ${change.weights.new} failed: ${change.error}; the phase is unchanged`);
  }
}

@Injectable()
export class TrafficService {
  constructor(
    @Inject(TRAFFIC_ROUTER) private readonly router: TrafficRouter,
    @Inject(DATA_SOURCE) private readonly dataSource: DataSource,
  ) {}

  get provider(): string {
    return this.router.provider;
  }

  async change(weights: Weights): Promise<TrafficChange> {
    try {
      checkWeights(weights);
    } catch (err) {
      if (err instanceof InvalidWeightsError) throw new DomainError(err.code, 400, err.message);
      throw err;
    }
    const [intent]: Row[] = await this.dataSource.query(
      `INSERT INTO traffic_changes (provider, legacy_weight, new_weight, state) VALUES ($1, $2, $3, 'intent') RETURNING *`,
      [this.router.provider, weights.legacy, weights.new],
    );
    try {
      const applied = await this.router.apply(weights);
      // TypeORM answers an UPDATE with [rows, affected].
      const [[done]]: [Row[], number] = await this.dataSource.query(
        `UPDATE traffic_changes SET state = 'done', change_id = $2, completed_at = now() WHERE id = $1 RETURNING *`,
        [intent.id, applied.changeId],
      );
      return toChange(done);
    } catch (err) {
      const [[failed]]: [Row[], number] = await this.dataSource.query(
        `UPDATE traffic_changes SET state = 'failed', error = $2, completed_at = now() WHERE id = $1 RETURNING *`,
        [intent.id, (err as Error).message.slice(0, 500)],
      );
      throw new TrafficChangeFailedError(toChange(failed));
    }
  }

  async last(): Promise<TrafficChange | null> {
    const rows: Row[] = await this.dataSource.query('SELECT * FROM traffic_changes ORDER BY id DESC LIMIT 1');
    return rows.length > 0 ? toChange(rows[0]) : null;
  }

  async history(limit = 100, offset = 0): Promise<TrafficChange[]> {
    const rows: Row[] = await this.dataSource.query('SELECT * FROM traffic_changes ORDER BY id DESC LIMIT $1 OFFSET $2', [limit, offset]);
    return rows.map(toChange);
  }
}
