/**
 * Retries of one provider call, named by what they retry (`withRetries("Route 53 GetChange", ...)`).
 * Exponential back-off with "equal jitter": attempt n waits between half and all of
 * min(cap, base * 2^(n-1)), so waits keep growing (a PriorRequestNotComplete needs real time to clear)
 * while concurrent callers still spread out. Only errors `isRetryable` accepts are retried; anything
 * else is thrown at once, unchanged. `sleep` and `random` are injected so tests run instantly.
 */
export interface RetryPolicy {
  /** First back-off, in ms. */
  baseMs: number;
  /** Largest back-off, in ms. */
  capMs: number;
  /** Attempts in all, the first one included (1 = no retries). */
  maxAttempts: number;
}

export interface RetryEvent {
  what: string;
  attempt: number;
  delayMs: number;
  error: unknown;
}

export interface RetryDeps {
  sleep: (ms: number) => Promise<void>;
  /** Uniform in [0, 1). */
  random: () => number;
  onRetry?: (event: RetryEvent) => void;
}

export const realSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Every retryable attempt failed; `lastError` is the provider's last answer. */
export class RetriesExhaustedError extends Error {
  readonly code = 'RETRIES_EXHAUSTED';
  constructor(
    readonly what: string,
    readonly attempts: number,
    readonly lastError: unknown,
  ) {
    super(
      `${what} still failing after ${attempts} attempt${attempts === 1 ? '' : 's'}: ${lastError instanceof Error ? lastError.message : String(lastError)}`,
    );
    this.name = 'RetriesExhaustedError';
  }
}

/** The wait before attempt `attempt + 1`, after `attempt` failures (attempt >= 1). */
export function backoffDelay(attempt: number, policy: RetryPolicy, random: () => number): number {
  const ceiling = Math.min(policy.capMs, policy.baseMs * 2 ** Math.min(attempt - 1, 30));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

export async function withRetries<T>(
  what: string,
  fn: () => Promise<T>,
  policy: RetryPolicy,
  isRetryable: (err: unknown) => boolean,
  deps: RetryDeps,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!isRetryable(err)) throw err;
      if (attempt >= policy.maxAttempts) throw new RetriesExhaustedError(what, attempt, err);
      const delayMs = backoffDelay(attempt, policy, deps.random);
      deps.onRetry?.({ what, attempt, delayMs, error: err });
      await deps.sleep(delayMs);
    }
  }
}
