/**
 * The repairs the API's follower runs (OutboxFollower), on PostgreSQL connections of their own.
 *
 * A follow-up is applied in a fenced transaction (RepairService.followChanges, RepairService.settle), and that
 * transaction stays open while the other store's writes run, so that a round decided under one phase never lands
 * under another. If those transactions came from the requests' pool, a legacy store that hangs (accepts
 * connections, answers nothing) would hold the requests' connections for as long as it hangs, and writes that
 * never touch legacy would wait for a connection until they failed. So they come from a small pool of their
 * own (DATABASE_FOLLOW_POOL_SIZE), opened on the first follow-up: a process that never follows opens none.
 */
import { OnApplicationShutdown } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import type { MetricsService } from '../common/metrics/metrics.service';
import { WriteFence } from '../mode/write-fence';
import type { LegacyStore } from '../stores/legacy-store.port';
import type { TransactionalStore } from '../stores/conversation-store.port';
import type { OutboxEntry } from './repair-outbox';
import { PostgresRepairOutbox } from './repair-outbox';
import { FollowEntry, FollowOutcome, RepairOutcome, RepairService } from './repair.service';

/** What the follower needs of the repair service. */
export type FollowUpRepairPort = Pick<RepairService, 'followChanges' | 'settle'>;

export class FollowUpRepairs implements FollowUpRepairPort, OnApplicationShutdown {
  private service?: Promise<{ ds: DataSource; repairs: RepairService }>;
  private closed = false;

  constructor(
    private readonly open: () => DataSource,
    private readonly legacy: LegacyStore,
    private readonly newStore: TransactionalStore,
    private readonly fenceWaitMs: number,
    private readonly metrics: MetricsService,
  ) {}

  async followChanges(batch: readonly FollowEntry[]): Promise<FollowOutcome[]> {
    return (await this.repairs()).followChanges(batch);
  }

  async settle(entry: OutboxEntry): Promise<RepairOutcome> {
    return (await this.repairs()).settle(entry);
  }

  async onApplicationShutdown(): Promise<void> {
    this.closed = true;
    const opened = await this.service?.catch(() => undefined);
    await opened?.ds.destroy().catch(() => undefined);
  }

  private async repairs(): Promise<RepairService> {
    if (this.closed) throw new Error('shutting down');
    this.service ??= (async () => {
      const ds = this.open();
      await ds.initialize();
      const fence = new WriteFence(ds, this.fenceWaitMs, this.metrics);
      return { ds, repairs: new RepairService(this.legacy, this.newStore, fence, new PostgresRepairOutbox(ds)) };
    })().catch((err: unknown) => {
      // Tried again by the next follow-up; until then the rows wait for the outbox replayer.
      this.service = undefined;
      throw err;
    });
    return (await this.service).repairs;
  }
}
