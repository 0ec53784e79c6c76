import { backoffDelay, RetriesExhaustedError, RetryEvent, withRetries } from './retry';

const POLICY = { baseMs: 100, capMs: 1_000, maxAttempts: 4 };

class Transient extends Error {}

function deps(random = () => 0.5) {
  const sleeps: number[] = [];
  const events: RetryEvent[] = [];
  return {
    sleeps,
    events,
    deps: { sleep: async (ms: number) => void sleeps.push(ms), random, onRetry: (e: RetryEvent) => void events.push(e) },
  };
}

describe('backoffDelay', () => {
  it('doubles from the base up to the cap, jittered between half and all of it', () => {
    expect([1, 2, 3, 4, 5, 6].map((n) => backoffDelay(n, POLICY, () => 0))).toEqual([50, 100, 200, 400, 500, 500]);
    expect([1, 2, 3, 4, 5, 6].map((n) => backoffDelay(n, POLICY, () => 0.999999))).toEqual([100, 200, 400, 800, 1000, 1000]);
  });

  it('does not overflow on absurd attempt numbers', () => {
    expect(backoffDelay(10_000, POLICY, () => 1)).toBe(1000);
  });
});

describe('withRetries', () => {
  it('retries retryable errors with back-off, then returns the result', async () => {
    const { sleeps, events, deps: d } = deps();
    let calls = 0;
    const result = await withRetries(
      'thing',
      async () => (++calls < 3 ? Promise.reject(new Transient('busy')) : 'ok'),
      POLICY,
      (e) => e instanceof Transient,
      d,
    );
    expect(result).toBe('ok');
    expect(calls).toBe(3);
    expect(sleeps).toEqual([75, 150]);
    expect(events.map((e) => [e.what, e.attempt, e.delayMs])).toEqual([
      ['thing', 1, 75],
      ['thing', 2, 150],
    ]);
  });

  it('throws other errors at once, unchanged', async () => {
    const { sleeps, deps: d } = deps();
    const boom = new Error('invalid');
    let calls = 0;
    await expect(
      withRetries(
        'thing',
        async () => {
          calls++;
          throw boom;
        },
        POLICY,
        (e) => e instanceof Transient,
        d,
      ),
    ).rejects.toBe(boom);
    expect(calls).toBe(1);
    expect(sleeps).toEqual([]);
  });

  it('gives up after maxAttempts with the last error', async () => {
    const { sleeps, deps: d } = deps();
    let calls = 0;
    const err = await withRetries(
      'thing',
      async () => {
        throw new Transient(`busy ${++calls}`);
      },
      POLICY,
      () => true,
      d,
    ).catch((e) => e);
    expect(err).toBeInstanceOf(RetriesExhaustedError);
    expect(err.message).toBe('thing still failing after 4 attempts: busy 4');
    expect(err.attempts).toBe(4);
    expect(calls).toBe(4);
    expect(sleeps).toHaveLength(3);
  });

  it('makes one attempt when maxAttempts is 1', async () => {
    const { deps: d } = deps();
    const err = await withRetries(
      'thing',
      async () => {
        throw new Transient('busy');
      },
      { ...POLICY, maxAttempts: 1 },
      () => true,
      d,
    ).catch((e) => e);
    expect(err).toBeInstanceOf(RetriesExhaustedError);
    expect(err.attempts).toBe(1);
  });
});
