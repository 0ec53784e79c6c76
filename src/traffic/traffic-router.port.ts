/**
 * Moves DNS traffic between the legacy and the new system. Weights are what the provider gets
 * (Route 53: 0..255, never both zero); the phase plan's percentages map to `{legacy: 100 - p, new: p}`.
 *
 * A change has two halves so that the intent log can record the provider's change id between them:
 * `submit` sends both weights in one request and returns the provider's id of the change; `settle`
 * waits until the provider reports that change in effect and reads the weights back, failing with
 * `WeightsMismatchError` when they are not the ones asked for. `apply` is both in one call.
 */
export interface Weights {
  legacy: number;
  new: number;
}

export interface AppliedChange {
  /** The provider's id of the change (Route 53 change id), when it has one. */
  changeId: string | null;
}

export interface TrafficRouter {
  readonly provider: string;
  /** Sends both weights together (after `checkWeights`); returns once the provider accepted the change. */
  submit(weights: Weights): Promise<AppliedChange>;
  /** Waits for a submitted change to be in effect (Route 53: INSYNC), then checks the weights read back. */
  settle(change: AppliedChange, weights: Weights): Promise<void>;
  /** submit + settle. */
  apply(weights: Weights): Promise<AppliedChange>;
  /** The weights in effect as the provider reports them (null when it keeps none or the records are absent). */
  read(): Promise<Weights | null>;
  /** Removes the legacy weighted record for good (cleanup), leaving only the new one; idempotent. */
  retireLegacy(): Promise<AppliedChange>;
}

export const TRAFFIC_ROUTER = Symbol('TRAFFIC_ROUTER');

export class InvalidWeightsError extends Error {
  readonly code = 'INVALID_WEIGHTS';
}

/** The provider reports the change done but the records read back carry other weights. */
export class WeightsMismatchError extends Error {
  readonly code = 'WEIGHTS_MISMATCH';
  constructor(
    readonly expected: Weights,
    readonly actual: Weights | null,
  ) {
    super(
      `weights read back are ${actual ? `legacy ${actual.legacy} / new ${actual.new}` : 'absent'}, expected legacy ${expected.legacy} / new ${expected.new}`,
    );
  }
}

export function checkWeights(w: Weights): void {
  for (const [name, v] of Object.entries(w)) {
    if (!Number.isInteger(v) || v < 0 || v > 255) throw new InvalidWeightsError(`${name} weight ${v} is outside 0..255`);
  }
  if (w.legacy === 0 && w.new === 0) throw new InvalidWeightsError('both weights are zero (Route 53 would then split traffic equally)');
}

export function sameWeights(a: Weights | null, b: Weights | null): boolean {
  return a !== null && b !== null && a.legacy === b.legacy && a.new === b.new;
}

export function weightsForPercent(newPercent: number): Weights {
  return { legacy: 100 - newPercent, new: newPercent };
}
