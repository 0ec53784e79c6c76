/**
 * The API side of shadow comparison. On the request path it costs one random draw; a sampled read is
 * offered to the bounded shadow queue only after its response has been sent, and nothing waits for it.
 * The samples a process takes within SHADOW_BATCH_MS (up to SHADOW_BATCH_MAX of them, SHADOW_BATCH_BYTES of
 * replies) go as one job: the queue's round trips and the worker's per-job work are paid once for them.
 * The reply travels with the sample (up to SHADOW_MAX_REPLY_BYTES): it is the primary side of the
 * comparison, as Scientist's control is the result already produced, so the store that served the read
 * is not read a second time for every sample.
 * A sample that cannot be queued (queue full, Redis down, too many admissions in flight) is dropped and
 * counted: in the metrics at once, and in PostgreSQL in small batches (so GET /migration/shadow on any
 * replica shows every replica's drops). Drop counts that cannot be written are kept for the next flush.
 */
import { BeforeApplicationShutdown, Inject, Injectable, Logger } from '@nestjs/common';
import { SHADOW_CONFIG, ShadowConfig } from './shadow.config';
import { MetricsService } from '../common/metrics/metrics.service';
import { ListConversationsSchema } from '../conversations/conversation.schemas';
import { parseInput } from '../http/validation';
import { MigrationModeService } from '../mode/migration-mode.service';
import type { StoreName } from '../model/store-name';
import type { Endpoint } from './domain/response-body';
import { DropReason, ShadowPayload, ShadowQueue } from './shadow-queue';
import { ShadowRepository } from './shadow.repository';

const DROP_FLUSH_MS = 2000;

/** What the interceptor saw of one sampled read, once its response was sent. */
export interface SampledRead {
  endpoint: Endpoint;
  params: Record<string, string>;
  query: Record<string, unknown>;
  status: number;
  /** The body sent. */
  body?: unknown;
  /** Content-Length of the response, if known. */
  bytes?: number;
}

@Injectable()
export class ShadowSampler implements BeforeApplicationShutdown {
  private readonly logger = new Logger('ShadowSampler');
  private readonly pending = new Set<Promise<void>>();
  private readonly unflushed = new Map<DropReason, number>();
  private flushTimer?: NodeJS.Timeout;
  /** Samples taken and not yet offered (the batch being gathered), with their replies' bytes. */
  private batch: SampledRead[] = [];
  private batchBytes = 0;
  private batchTimer?: NodeJS.Timeout;
  private readonly samples;
  private readonly dropped;
  private readonly depth;

  constructor(
    @Inject(SHADOW_CONFIG) private readonly config: ShadowConfig,
    private readonly mode: MigrationModeService,
    private readonly queue: ShadowQueue,
    private readonly repo: ShadowRepository,
    metrics: MetricsService,
  ) {
    this.samples = metrics.counter(
      'shadow_samples_total',
      'Sampled reads by what became of them (enqueued, dropped, off: phase without shadow)',
      ['endpoint', 'result'],
    );
    this.dropped = metrics.counter('shadow_dropped_total', 'Sampled reads dropped before comparison, by reason (full, unavailable, busy)', [
      'reason',
    ]);
    this.depth = metrics.gauge('shadow_queue_depth', 'Shadow queue depth seen by the last admission from this process');
  }

  /** Whether replies travel with the samples. */
  get capturesBodies(): boolean {
    return this.config.maxReplyBytes > 0;
  }

  /** On the request path: a random draw only. */
  shouldSample(endpoint: Endpoint): boolean {
    const rate = this.config.sampleRates[endpoint];
    return rate > 0 && (rate >= 1 || Math.random() < rate);
  }

  /** After the response was sent. Never throws; nothing waits for it. */
  submit(read: SampledRead): void {
    this.batch.push(read);
    this.batchBytes += read.bytes ?? 0;
    const full = this.batch.length >= this.config.batchMax || this.batchBytes >= this.config.batchBytes;
    if (full || this.config.batchMs === 0) this.offerBatch();
    else this.batchTimer ??= setTimeout(() => this.offerBatch(), this.config.batchMs);
  }

  /** Resolves once every sample submitted so far has been queued or dropped (tests, bench, shutdown). */
  async settled(): Promise<void> {
    this.offerBatch();
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  async flushDrops(): Promise<void> {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    if (this.unflushed.size === 0) return;
    const counts = new Map(this.unflushed);
    this.unflushed.clear();
    try {
      await this.repo.recordDrops(counts);
    } catch (err) {
      for (const [reason, n] of counts) this.unflushed.set(reason, (this.unflushed.get(reason) ?? 0) + n);
      this.scheduleFlush();
      this.logger.warn({ msg: 'shadow drop counts not written yet', error: (err as Error).message });
    }
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.settled();
    clearTimeout(this.batchTimer);
    await this.flushDrops();
    if (this.flushTimer) clearTimeout(this.flushTimer);
  }

  /** Offers the batch gathered so far; nothing waits for it. */
  private offerBatch(): void {
    clearTimeout(this.batchTimer);
    this.batchTimer = undefined;
    if (this.batch.length === 0) return;
    const reads = this.batch;
    this.batch = [];
    this.batchBytes = 0;
    const p: Promise<void> = this.enqueue(reads)
      .catch((err) => {
        this.logger.warn({ msg: 'shadow samples not queued', samples: reads.length, error: (err as Error).message });
        for (const read of reads) this.drop(read.endpoint, 'unavailable');
      })
      .finally(() => this.pending.delete(p));
    this.pending.add(p);
  }

  private async enqueue(reads: SampledRead[]): Promise<void> {
    const mode = await this.mode.current();
    if (!mode.shadow) {
      for (const read of reads) this.samples.inc({ endpoint: read.endpoint, result: 'off' });
      return;
    }
    const payloads: ShadowPayload[] = [];
    for (const read of reads) {
      try {
        payloads.push(this.payload(read, mode.readFrom));
      } catch (err) {
        this.logger.warn({ msg: 'shadow sample not queued', endpoint: read.endpoint, error: (err as Error).message });
        this.drop(read.endpoint, 'unavailable');
      }
    }
    const { enqueued, reason } = await this.queue.offerBatch(payloads);
    this.depth.set(this.queue.lastDepth);
    payloads.forEach((p, i) => {
      if (i < enqueued) this.samples.inc({ endpoint: p.endpoint, result: 'enqueued' });
      else this.drop(p.endpoint, reason ?? 'unavailable');
    });
  }

  private payload(read: SampledRead, store: StoreName): ShadowPayload {
    const base = { sampledAt: Date.now(), calibration: Math.random() < this.config.calibrationRate, served: this.served(read, store) };
    if (read.endpoint === 'get') return { ...base, endpoint: 'get', id: read.params.id };
    const { userId, limit, cursor } = parseInput(ListConversationsSchema, read.query, 'query');
    return { ...base, endpoint: 'list', userId, limit, cursor };
  }

  private served(read: SampledRead, store: StoreName): ShadowPayload['served'] {
    if (read.status !== 200) return { store, status: read.status };
    const small = this.capturesBodies && read.bytes !== undefined && read.bytes <= this.config.maxReplyBytes;
    // A reply beyond the bound is not carried through Redis; the worker reads the primary store instead.
    return small ? { store, status: 200, body: read.body } : { store, status: 200 };
  }

  private drop(endpoint: Endpoint, reason: DropReason): void {
    this.samples.inc({ endpoint, result: 'dropped' });
    this.dropped.inc({ reason });
    this.unflushed.set(reason, (this.unflushed.get(reason) ?? 0) + 1);
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.flushTimer) return;
    this.flushTimer = setTimeout(() => void this.flushDrops(), DROP_FLUSH_MS);
    this.flushTimer.unref();
  }
}
