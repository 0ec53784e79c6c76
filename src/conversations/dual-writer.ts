/**
 * Writes one new state of a conversation to the source of truth and, in dual-write phases, to the
 * other store, concurrently. The rules that keep both stores equal:
 * - the source of truth decides: its insert / compare-and-set is what acknowledges the write;
 * - the secondary write is version-guarded (only moves forward) and bounded by a timeout;
 * - anything other than "both wrote" records a repair for the conversation (queue or outbox); the
 *   repair copies the source of truth's current state, so it is right whatever raced with it.
 */
import { Inject, Injectable } from '@nestjs/common';
import type { AppConfig } from '../config/app-config';
import { APP_CONFIG } from '../config/config.module';
import { MetricsService } from '../common/metrics/metrics.service';
import { ConversationStore, LEGACY_STORE, NEW_STORE, PutResult, StoreName } from '../stores/conversation-store.port';
import { MigrationMode, otherStore } from '../migration/domain/phases';
import { RepairRecorder } from '../repair/repair-recorder';
import type { Conversation } from './domain/conversation.model';

class SecondaryTimeout extends Error {}

@Injectable()
export class DualWriter {
  private readonly latency;
  private readonly secondaryFailures;

  constructor(
    @Inject(LEGACY_STORE) private readonly legacy: ConversationStore,
    @Inject(NEW_STORE) private readonly newStore: ConversationStore,
    private readonly repairs: RepairRecorder,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    metrics: MetricsService,
  ) {
    this.latency = metrics.histogram('store_write_duration_seconds', 'Write latency per store and role', ['store', 'role', 'outcome'], [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5]);
    this.secondaryFailures = metrics.counter('secondary_write_failures_total', 'Secondary writes that failed, timed out or were stale', ['store', 'reason']);
  }

  store(name: StoreName): ConversationStore {
    return name === 'legacy' ? this.legacy : this.newStore;
  }

  /**
   * Writes `next`; `expectedVersion` null means create. Resolves true when the source of truth took
   * the write, false when another writer got there first (compare-and-set lost); rejects when the
   * source of truth failed (nothing acknowledged).
   */
  async write(mode: MigrationMode, next: Conversation, expectedVersion: number | null): Promise<boolean> {
    const primary = this.store(mode.sourceOfTruth);
    const primaryWrite = this.timed(primary.name, 'primary', () =>
      expectedVersion === null ? primary.insertNew(next) : primary.compareAndSet(next, expectedVersion),
    );
    if (!mode.dualWrite) return primaryWrite;

    const secondary = this.store(otherStore(mode.sourceOfTruth));
    const secondaryWrite = this.timed(secondary.name, 'secondary', () => this.withTimeout(secondary.putIfNewer(next)));
    const [p, s] = await Promise.allSettled([primaryWrite, secondaryWrite]);

    const reason = this.divergence(p, s);
    if (reason) {
      if (s.status === 'rejected' || (s.status === 'fulfilled' && s.value === 'stale')) {
        this.secondaryFailures.inc({ store: secondary.name, reason: s.status === 'rejected' ? (s.reason instanceof SecondaryTimeout ? 'timeout' : 'error') : 'stale' });
      }
      await this.repairs.record(next.id, primary.name, reason);
    }
    if (p.status === 'rejected') throw p.reason;
    return p.value;
  }

  private divergence(p: PromiseSettledResult<boolean>, s: PromiseSettledResult<PutResult>): string | null {
    if (p.status === 'rejected') return 'source of truth write failed';
    if (!p.value) return s.status === 'fulfilled' && s.value === 'written' ? 'secondary took a version the source of truth refused' : null;
    if (s.status === 'rejected') return s.reason instanceof SecondaryTimeout ? 'secondary write timed out' : 'secondary write failed';
    if (s.value === 'stale') return 'secondary already had this or a newer version';
    return null;
  }

  private async timed<T>(store: StoreName, role: 'primary' | 'secondary', fn: () => Promise<T>): Promise<T> {
    const end = this.latency.startTimer({ store, role });
    try {
      const result = await fn();
      end({ outcome: 'ok' });
      return result;
    } catch (err) {
      end({ outcome: 'error' });
      throw err;
    }
  }

  private withTimeout<T>(op: Promise<T>): Promise<T> {
    const ms = this.config.dualWrite.secondaryTimeoutMs;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new SecondaryTimeout(`secondary write took longer than ${ms} ms`)), ms);
    });
    // The write may still land later; it is version-guarded and the repair compares content, so that is safe.
    op.catch(() => undefined);
    return Promise.race([op, timeout]).finally(() => clearTimeout(timer));
  }
}
