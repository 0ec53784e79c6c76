/**
 * Work recovery, on every worker process. The state of every long piece of work (backfill runs and their
 * ranges, the catch-up schedule, verification runs, archive runs, traffic intents) lives in PostgreSQL;
 * its BullMQ job is only the reminder that a worker is needed, and Redis can lose reminders: a restart
 * without persistence, an eviction under memory pressure, a FLUSHALL. Each capability re-creates its
 * own from its own state (`recover`: idempotent, and never starting new work); this part asks them
 * every WORKER_RECOVERY_INTERVAL_MS and at once when Redis comes back from a disconnect, on one worker
 * at a time (a PostgreSQL advisory lock held for the pass).
 *
 * It also tells a Redis that came back empty from one that merely reconnected: a marker key that this
 * process saw before and that is gone now means Redis lost its data, which is logged and counted.
 */
import { Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { AdvisoryLock, whileHolding } from '../common/advisory-lock';
import type { MetricsService } from '../common/metrics/metrics.service';
import type { RedisClient } from '../stores/redis';
import { ALL_QUEUES, queuePrefix } from './queue-names';

export interface RecoverableWork {
  /** What the log and the metric call it (`backfill`, `verify`, ...). */
  readonly kind: string;
  /** Re-creates the jobs Redis lost; returns what it re-created (empty when nothing was missing). */
  recover(): Promise<string[]>;
}

export type RecoveryOutcome =
  { outcome: 'not_leader' | 'redis_unavailable' } | { outcome: 'done'; redisDataLost: boolean; recovered: string[]; failed: string[] };

/**
 * The markers, one beside each queue's keys (its hash tag): on a Redis Cluster a node that restarts empty loses
 * only its own slots, and one of these lies with every queue it held.
 */
export const recoveryMarkerKeys = (keyPrefix: string): string[] => ALL_QUEUES.map((q) => `${queuePrefix(keyPrefix, q)}:recovery:marker`);
/** After a reconnect, wait this long (other connections reconnect too) before the pass. */
const AFTER_READY_MS = 500;

export class WorkRecovery implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('WorkRecovery');
  private timer?: NodeJS.Timeout;
  private readyTimer?: NodeJS.Timeout;
  private running?: Promise<RecoveryOutcome>;
  private sawMarker = false;
  private readonly recoveredTotal;
  private readonly dataLossTotal;
  private readonly onReady = () => {
    clearTimeout(this.readyTimer);
    this.readyTimer = setTimeout(() => void this.tick('redis reconnected'), AFTER_READY_MS);
    this.readyTimer.unref();
  };

  constructor(
    private readonly parts: RecoverableWork[],
    private readonly redis: RedisClient,
    private readonly keyPrefix: string,
    private readonly dataSource: DataSource,
    private readonly intervalMs: number,
    metrics: MetricsService,
  ) {
    this.recoveredTotal = metrics.counter(
      'work_recovered_total',
      'Jobs a worker re-created from PostgreSQL state after Redis lost them, by kind of work',
      ['kind'],
    );
    this.dataLossTotal = metrics.counter('redis_data_loss_total', 'Times a worker found that Redis had come back without its data');
  }

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => void this.tick('interval'), this.intervalMs);
    this.timer.unref();
    this.redis.on('ready', this.onReady);
    // A worker that starts after Redis lost its data (everything restarted) recovers at once.
    setImmediate(() => void this.tick('start-up'));
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
    clearTimeout(this.readyTimer);
    this.redis.off('ready', this.onReady);
  }

  /** One pass; a pass already running in this process is joined rather than doubled. */
  tick(reason: string): Promise<RecoveryOutcome> {
    this.running ??= this.pass(reason)
      .catch((err): RecoveryOutcome => {
        this.logger.warn({ msg: 'work recovery pass failed', reason, error: (err as Error).message });
        return { outcome: 'redis_unavailable' };
      })
      .finally(() => (this.running = undefined));
    return this.running;
  }

  private async pass(reason: string): Promise<RecoveryOutcome> {
    let redisDataLost: boolean;
    try {
      redisDataLost = await this.checkMarker();
    } catch {
      return { outcome: 'redis_unavailable' };
    }
    return whileHolding(
      this.dataSource,
      AdvisoryLock.WorkRecovery,
      { outcome: 'not_leader' } as const,
      async (): Promise<RecoveryOutcome> => {
        const recovered: string[] = [];
        const failed: string[] = [];
        for (const part of this.parts) {
          try {
            const found = await part.recover();
            if (found.length > 0) this.recoveredTotal.inc({ kind: part.kind }, found.length);
            recovered.push(...found);
          } catch (err) {
            failed.push(part.kind);
            this.logger.warn({ msg: 'could not recover work', kind: part.kind, error: (err as Error).message });
          }
        }
        if (recovered.length > 0) this.logger.warn({ msg: 're-created jobs Redis no longer had', reason, redisDataLost, recovered });
        return { outcome: 'done', redisDataLost, recovered, failed };
      },
    );
  }

  /** True when a marker this process saw before is gone: Redis (or one of its nodes) came back without its data. */
  private async checkMarker(): Promise<boolean> {
    const at = new Date().toISOString();
    const created = (await Promise.all(recoveryMarkerKeys(this.keyPrefix).map((key) => this.redis.set(key, at, 'NX')))).some(
      (r) => r === 'OK',
    );
    const lost = created && this.sawMarker;
    this.sawMarker = true;
    if (lost) {
      this.dataLossTotal.inc();
      this.logger.warn({ msg: 'Redis came back without its data: re-creating the jobs of unfinished work from PostgreSQL' });
    }
    return lost;
  }
}
