import { DataSource } from 'typeorm';
import { AppliedChange, checkWeights, TrafficRouter, TrafficState, Weights } from './traffic-router.port';

/**
 * For local development and tests: calls nothing. The weights "in effect" are those of the last change
 * the intent log marked done, so every process (API, workers) reports the same.
 */
export class NoneTrafficRouter implements TrafficRouter {
  readonly provider = 'none';

  constructor(private readonly dataSource: DataSource) {}

  async submit(weights: Weights): Promise<AppliedChange> {
    checkWeights(weights);
    return { changeId: null };
  }

  async settle(): Promise<void> {
    // Nothing was sent, so there is nothing to wait for or read back.
  }

  async apply(weights: Weights): Promise<AppliedChange> {
    return this.submit(weights);
  }

  async read(): Promise<Weights | null> {
    const rows: Array<{ legacy_weight: number; new_weight: number }> = await this.dataSource.query(
      `SELECT legacy_weight, new_weight FROM traffic_changes WHERE state = 'done' AND kind = 'weights' ORDER BY id DESC LIMIT 1`,
    );
    return rows.length > 0 ? { legacy: rows[0].legacy_weight, new: rows[0].new_weight } : null;
  }

  /** No provider, so no fence: the intent log's state guards are all there is. */
  async state(): Promise<TrafficState> {
    return { fence: null, weights: await this.read() };
  }

  async retireLegacy(): Promise<AppliedChange> {
    return { changeId: null };
  }
}
