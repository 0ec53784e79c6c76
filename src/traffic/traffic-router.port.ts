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

/**
 * The provider's mark of the last change that wrote the weights (Route 53: a TXT record, see record-sets.ts). A
 * change sent with the fence it read is refused if another change has replaced that fence since: a worker that
 * read, then stalled, cannot overwrite what was decided after its read. Providers that keep no fence report null.
 */
export interface Fence {
  /** The traffic change (intent log id) that wrote it; null if it does not say. */
  changeId: number | null;
  token: string;
  /** The provider's own record of it, as read (a DELETE must present it exactly). */
  record: unknown;
}

/** What is in effect, read fence first: a change that lands between the two reads leaves the fence stale, not the weights. */
export interface TrafficState {
  weights: Weights | null;
  fence: Fence | null;
}

/** The fence a change presents (`from`, as read before deciding) and the change that replaces it. */
export interface FencedBy {
  from: Fence | null;
  changeId: number;
}

export interface AppliedChange {
  /** The provider's id of the change (Route 53 change id), when it has one. */
  changeId: string | null;
}

export interface TrafficRouter {
  readonly provider: string;
  /**
   * Sends both weights together (after `checkWeights`); returns once the provider accepted the change. With
   * `fence`, the provider refuses the change if its fence is no longer `fence.from`; without, the router reads the
   * fence itself just before sending (for callers that decided nothing on an earlier read).
   */
  submit(weights: Weights, fence?: FencedBy): Promise<AppliedChange>;
  /** Waits for a submitted change to be in effect (Route 53: INSYNC), then checks the weights read back. */
  settle(change: AppliedChange, weights: Weights): Promise<void>;
  /** submit + settle. */
  apply(weights: Weights, fence?: FencedBy): Promise<AppliedChange>;
  /** The weights in effect as the provider reports them (null when it keeps none or the records are absent). */
  read(): Promise<Weights | null>;
  /** The fence, then the weights: what a change decides on. */
  state(): Promise<TrafficState>;
  /** Removes the legacy weighted record for good (cleanup), leaving only the new one; idempotent; fenced like a change. */
  retireLegacy(changeId?: number): Promise<AppliedChange>;
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
