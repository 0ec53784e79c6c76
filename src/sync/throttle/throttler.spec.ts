import type { RedisClient } from '../../stores/redis';
import type { SyncConfig } from '../sync.config';
import type { SyncStateRepository } from '../state/sync-state.repository';
import { SyncThrottler } from './throttler';

const config = {
  maxDocsPerSecond: 0,
  latencyBackoffFactor: 3,
  latencyBackoffMinDeltaMs: 10,
  maxBackoffMs: 40,
} as SyncConfig;

function setup(opts: { paused?: boolean; ceiling?: number | null; evalResult?: () => Promise<number>; pressure?: string | null } = {}) {
  const sets: unknown[][] = [];
  const evals: unknown[][] = [];
  const reads = { count: 0 };
  const state = {
    readAll: async () => {
      reads.count++;
      return { pause: { paused: opts.paused ?? false }, throttle: { maxDocsPerSecond: opts.ceiling ?? null }, catchup: null };
    },
  } as unknown as SyncStateRepository;
  const redis = {
    get: async () => opts.pressure ?? null,
    set: async (...args: unknown[]) => void sets.push(args),
    eval: async (...args: unknown[]) => {
      evals.push(args);
      return opts.evalResult ? opts.evalResult() : 0;
    },
  } as unknown as RedisClient;
  return { throttler: new SyncThrottler(config, state, redis, 'lms'), sets, evals, reads };
}

describe('SyncThrottler', () => {
  it('reads pause and the operator ceiling from the shared state', async () => {
    expect(await setup({ paused: true }).throttler.isPaused()).toBe(true);
    const { throttler, evals } = setup({ ceiling: 250 });
    expect(await throttler.isPaused()).toBe(false);
    await throttler.throttled(100);
    // The shared bucket is asked for 100 documents at 250 per second.
    expect(evals).toHaveLength(1);
    expect(evals[0].slice(2)).toEqual(['lms:sync:bucket', '250', '100']);
    expect(throttler.batchLimit(1000)).toBe(250);
  });

  it('reads the settings once per batch: the batch is throttled by what its pause check read, if that is recent', async () => {
    let now = 1_000_000;
    const clock = jest.spyOn(Date, 'now').mockImplementation(() => now);
    try {
      const { throttler, reads } = setup({ ceiling: 250 });
      // A copy loop's batch: the pause check, a second's wait for the read-ahead, the throttle.
      for (let batch = 1; batch <= 3; batch++) {
        await throttler.isPaused();
        now += 1_200;
        await throttler.throttled(100);
        expect(reads.count).toBe(batch);
      }
      // A throttle with no pause check before it goes by the cache's age (REFRESH_MS): the settings of the last
      // pause check are 1.2 s old, read again; then fresh; then 0.6 s old, read again.
      await throttler.throttled(100);
      expect(reads.count).toBe(4);
      await throttler.throttled(100);
      expect(reads.count).toBe(4);
      now += 600;
      await throttler.throttled(100);
      expect(reads.count).toBe(5);
      // A pause check's settings do not hold for a batch that waited past PAUSE_CHECK_HOLDS_MS for its read.
      await throttler.isPaused();
      now += 6_000;
      await throttler.throttled(100);
      expect(reads.count).toBe(7);
    } finally {
      clock.mockRestore();
    }
  });

  it('does not touch the bucket without a ceiling', async () => {
    const { throttler, evals } = setup();
    await throttler.throttled(1000);
    expect(evals).toHaveLength(0);
    expect(throttler.batchLimit(1000)).toBe(1000);
  });

  it('waits as long as the shared bucket says, and falls back to a local bucket when Redis fails', async () => {
    const waits = [30, 0];
    const a = setup({ ceiling: 10, evalResult: async () => waits.shift()! });
    const t0 = Date.now();
    await a.throttler.throttled(1);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(25);
    expect(a.evals).toHaveLength(2);

    const b = setup({ ceiling: 1000, evalResult: async () => Promise.reject(new Error('redis down')) });
    await b.throttler.throttled(10);
    await b.throttler.throttled(10);
  });

  it('backs off while the API reports pressure, and an overloaded API raises that flag', async () => {
    const pressured = setup({ pressure: '1' });
    await pressured.throttler.isPaused();
    const t0 = Date.now();
    await pressured.throttler.throttled(1);
    await pressured.throttler.throttled(1);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(75);
    expect(pressured.throttler.describe().apiPressure).toBe(true);
    // Catch-up opts out of the back-off (it only has the ceiling and the pause).
    const t1 = Date.now();
    await pressured.throttler.throttled(1, { latencyBackoff: false });
    expect(Date.now() - t1).toBeLessThan(30);

    const api = setup();
    for (let i = 0; i < 10; i++) api.throttler.observeLatency('api', 5);
    expect(api.sets).toHaveLength(0);
    for (let i = 0; i < 10; i++) api.throttler.observeLatency('api', 500);
    expect(api.sets).toEqual([['lms:sync:api-pressure', '1', 'PX', 5000]]);
  });
});
