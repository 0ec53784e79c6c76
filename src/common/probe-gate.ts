/**
 * For a dependency that can hang rather than refuse (a frozen Redis accepts connections and answers nothing): once
 * a call has failed, callers skip it for `intervalMs` instead of each waiting out its own timeout, then one caller
 * tries it again (the probe) while the others go on skipping, until a call succeeds. Calls already in flight when
 * the first failure comes still wait theirs. `succeeded` and `failed` say whether the state changed, so an outage is
 * logged once when it starts and once when it ends.
 */
export class ProbeGate {
  private failing = false;
  private nextTryAt = 0;

  constructor(
    private readonly intervalMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  get down(): boolean {
    return this.failing;
  }

  /** Whether this call should use the dependency (always, unless it failed lately and another caller is probing). */
  shouldTry(): boolean {
    if (!this.failing) return true;
    const t = this.now();
    if (t < this.nextTryAt) return false;
    this.nextTryAt = t + this.intervalMs;
    return true;
  }

  /** True when the dependency was failing until this call. */
  succeeded(): boolean {
    const changed = this.failing;
    this.failing = false;
    return changed;
  }

  /** True when this failure starts an outage. */
  failed(): boolean {
    const changed = !this.failing;
    this.failing = true;
    this.nextTryAt = this.now() + this.intervalMs;
    return changed;
  }
}
