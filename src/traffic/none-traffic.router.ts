import { AppliedChange, checkWeights, sameWeights, TrafficRouter, Weights, WeightsMismatchError } from './traffic-router.port';

/** For local development and tests: calls nothing; the intent log records the intended weights. */
export class NoneTrafficRouter implements TrafficRouter {
  readonly provider = 'none';
  private current: Weights | null = null;

  async submit(weights: Weights): Promise<AppliedChange> {
    checkWeights(weights);
    this.current = { ...weights };
    return { changeId: null };
  }

  async settle(_change: AppliedChange, weights: Weights): Promise<void> {
    if (!sameWeights(this.current, weights)) throw new WeightsMismatchError(weights, this.current);
  }

  async apply(weights: Weights): Promise<AppliedChange> {
    const change = await this.submit(weights);
    await this.settle(change, weights);
    return change;
  }

  async read(): Promise<Weights | null> {
    return this.current;
  }

  async retireLegacy(): Promise<AppliedChange> {
    if (this.current) this.current = { legacy: 0, new: this.current.new };
    return { changeId: null };
  }
}
