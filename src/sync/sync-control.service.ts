/**
 * Pause, resume and the throttle override: operator decisions, persisted in `sync_state` so every
 * worker sees them (within the Throttler's refresh interval) and they survive restarts. A resume also
 * brings back at once the range jobs that were waiting out the pause.
 */
import type { BackfillService } from './backfill/backfill.service';
import type { SyncStateRepository } from './state/sync-state.repository';
import type { SyncThrottler } from './throttle/throttler';

export class SyncControlService {
  constructor(
    private readonly state: SyncStateRepository,
    private readonly throttler: SyncThrottler,
    private readonly backfill: BackfillService,
  ) {}

  async pause(by: string, reason?: string): Promise<void> {
    await this.state.setPause({ paused: true, by, reason, at: new Date().toISOString() });
    this.throttler.invalidate();
  }

  async resume(by: string): Promise<{ woken: number }> {
    await this.state.setPause({ paused: false, by, at: new Date().toISOString() });
    this.throttler.invalidate();
    return { woken: await this.backfill.wakePaused() };
  }

  /** null returns to the configured ceiling; 0 means no ceiling. */
  async setThrottle(maxDocsPerSecond: number | null, by: string): Promise<void> {
    await this.state.setThrottle({ maxDocsPerSecond, by, at: new Date().toISOString() });
    this.throttler.invalidate();
  }
}
