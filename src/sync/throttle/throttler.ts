/**
 * The Throttler: what the copy loops ask before each batch. Three things slow them down:
 * - pause: an operator's flag in `sync_state`, seen by every process within REFRESH_MS;
 * - a ceiling in documents per second over all workers: a token bucket in Redis (one Lua script, the
 *   Redis server's clock), falling back to a bucket of this process's own if Redis does not answer;
 * - latency back-off: the copy loops feed their batch latencies, the API feeds its request latency. The
 *   API runs in other processes, so an overloaded API raises a short-lived flag in Redis that workers read.
 * The ceiling and the API's pressure flag are cached for REFRESH_MS; the pause flag is read at every batch, and
 * the batch's `throttled` goes by what that pause check read (one settings read per batch, not two).
 */
import { Logger } from '@nestjs/common';
import type { RedisClient } from '../../stores/redis';
import type { SyncConfig } from '../sync.config';
import type { SyncStateRepository } from '../state/sync-state.repository';
import { BackoffDelay, LatencySignal, LatencyTracker } from './latency-backoff';
import { TOKEN_BUCKET_LUA, TokenBucket } from '../../common/token-bucket';

export type { LatencySignal } from './latency-backoff';

/** The narrow interface the copy loops (and the API's latency feed) see. */
export interface Throttler {
  /**
   * Resolves when `docs` more documents may be copied: after any latency back-off (unless the caller opts
   * out) and within the ceiling.
   */
  throttled(docs: number, options?: { latencyBackoff?: boolean }): Promise<void>;
  /** True while an operator has paused the sync. */
  isPaused(): Promise<boolean>;
  /** An observed latency; a sustained rise makes `throttled` back off. */
  observeLatency(signal: LatencySignal, ms: number): void;
  /** The batch size to read now: at most about one second's worth under the ceiling, so no wait is long. */
  batchLimit(preferred: number): number;
}

export const THROTTLER = Symbol('THROTTLER');

const REFRESH_MS = 500;
/**
 * How old the settings a pause check read may be when the batch after it is throttled by them. A copy loop checks
 * the pause, then waits for its read-ahead (a legacy getMore, about a second on the dev server), then throttles:
 * with REFRESH_MS alone that second read cost each batch another PostgreSQL and Redis round trip (about 30 ms, 3 %
 * of a backfill lane's time in bench run 36), for settings a few hundred milliseconds newer.
 */
const PAUSE_CHECK_HOLDS_MS = 5_000;
const PRESSURE_TTL_MS = 5000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Settings {
  paused: boolean;
  ceiling: number;
  apiPressure: boolean;
}

export class SyncThrottler implements Throttler {
  private readonly logger = new Logger('Throttler');
  private readonly tracker: LatencyTracker;
  private readonly delay: BackoffDelay;
  private readonly localBucket = new TokenBucket();
  private settings: Settings;
  private settingsAt = 0;
  /** A pause check read the settings since the last `throttled`. */
  private pauseChecked = false;
  private refreshing?: Promise<Settings>;
  private pressurePublishedAt = 0;
  private readonly bucketKey: string;
  private readonly pressureKey: string;

  constructor(
    private readonly config: SyncConfig,
    private readonly state: SyncStateRepository,
    private readonly redis: RedisClient,
    keyPrefix: string,
  ) {
    this.bucketKey = `${keyPrefix}:sync:bucket`;
    this.pressureKey = `${keyPrefix}:sync:api-pressure`;
    this.tracker = new LatencyTracker(config.latencyBackoffFactor, config.latencyBackoffMinDeltaMs);
    this.delay = new BackoffDelay(config.maxBackoffMs);
    this.settings = { paused: false, ceiling: config.maxDocsPerSecond, apiPressure: false };
  }

  /** Always read fresh (one small query per batch), so a pause takes effect at the very next batch. */
  async isPaused(): Promise<boolean> {
    this.settingsAt = 0;
    const settings = await this.current();
    this.pauseChecked = true;
    return settings.paused;
  }

  async throttled(docs: number, options: { latencyBackoff?: boolean } = {}): Promise<void> {
    const checked = this.pauseChecked && Date.now() - this.settingsAt < PAUSE_CHECK_HOLDS_MS;
    this.pauseChecked = false;
    const settings = checked ? this.settings : await this.current();
    if (options.latencyBackoff !== false) {
      const overloaded = this.tracker.overloaded().length > 0 || settings.apiPressure;
      const backoff = this.delay.next(overloaded);
      if (backoff > 0) await sleep(backoff);
    }
    if (settings.ceiling <= 0) return;
    for (;;) {
      const wait = await this.take(docs, settings.ceiling);
      if (wait <= 0) return;
      await sleep(Math.min(wait, 1000));
    }
  }

  observeLatency(signal: LatencySignal, ms: number): void {
    this.tracker.observe(signal, ms);
    if (signal === 'api' && this.tracker.overloaded().includes('api')) this.publishApiPressure();
  }

  batchLimit(preferred: number): number {
    const ceiling = this.settings.ceiling;
    return ceiling > 0 ? Math.max(1, Math.min(preferred, ceiling)) : preferred;
  }

  /** What the status endpoint shows. */
  describe(): {
    ceiling: number;
    backoffMs: number;
    overloaded: LatencySignal[];
    apiPressure: boolean;
    latency: ReturnType<LatencyTracker['snapshot']>;
  } {
    return {
      ceiling: this.settings.ceiling,
      backoffMs: this.delay.current,
      overloaded: this.tracker.overloaded(),
      apiPressure: this.settings.apiPressure,
      latency: this.tracker.snapshot(),
    };
  }

  /** Forget the cached settings (after this process changed them). */
  invalidate(): void {
    this.settingsAt = 0;
  }

  private async current(): Promise<Settings> {
    if (Date.now() - this.settingsAt < REFRESH_MS) return this.settings;
    this.refreshing ??= this.refresh().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  private async refresh(): Promise<Settings> {
    try {
      const [all, pressure] = await Promise.all([this.state.readAll(), this.redis.get(this.pressureKey).catch(() => null)]);
      const override = all.throttle.maxDocsPerSecond;
      this.settings = {
        paused: all.pause.paused === true,
        ceiling: override ?? this.config.maxDocsPerSecond,
        apiPressure: pressure !== null,
      };
      this.settingsAt = Date.now();
    } catch (err) {
      // Keep the last known settings: a PostgreSQL hiccup must not unpause or unthrottle the sync.
      this.logger.warn({ msg: 'throttle settings not refreshed', error: (err as Error).message });
    }
    return this.settings;
  }

  private async take(docs: number, rate: number): Promise<number> {
    try {
      return Number(await this.redis.eval(TOKEN_BUCKET_LUA, 1, this.bucketKey, String(rate), String(docs)));
    } catch {
      return this.localBucket.take(docs, rate, Date.now());
    }
  }

  private publishApiPressure(): void {
    const now = Date.now();
    if (now - this.pressurePublishedAt < 1000) return;
    this.pressurePublishedAt = now;
    this.redis.set(this.pressureKey, '1', 'PX', PRESSURE_TTL_MS).catch(() => undefined);
  }
}
