/**
 * The stores' roles as every request sees them. The phase lives in PostgreSQL; each process caches
 * it for MODE_CACHE_TTL_MS (default 1 s), so a phase change reaches every replica within that time.
 * When PostgreSQL cannot be read, the last known mode keeps serving: an outage of the new store must
 * not take the API down while legacy is the source of truth.
 */
import { Inject, Injectable, Logger } from '@nestjs/common';
import type { AppConfig } from '../config/app-config';
import { APP_CONFIG } from '../config/config.module';
import { MetricsService } from '../common/metrics/metrics.service';
import { ServiceUnavailableError } from '../common/errors';
import { MigrationMode, modeForPhase } from '../migration/domain/phases';
import { MigrationStateRepository } from '../migration/migration-state.repository';

@Injectable()
export class MigrationModeService {
  private readonly logger = new Logger('MigrationMode');
  private cached?: { mode: MigrationMode; at: number };
  private inflight?: Promise<MigrationMode>;
  private readonly staleReads;

  constructor(
    private readonly state: MigrationStateRepository,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    metrics: MetricsService,
  ) {
    this.staleReads = metrics.counter('migration_mode_stale_total', 'Requests served with a cached mode because PostgreSQL could not be read');
  }

  async current(): Promise<MigrationMode> {
    const ttl = this.config.dualWrite.modeCacheTtlMs;
    if (this.cached && Date.now() - this.cached.at < ttl) return this.cached.mode;
    this.inflight ??= this.refresh().finally(() => (this.inflight = undefined));
    return this.inflight;
  }

  /** Forget the cache (after this process changed the phase itself). */
  invalidate(): void {
    this.cached = undefined;
  }

  private async refresh(): Promise<MigrationMode> {
    try {
      const row = await this.state.read();
      const mode = modeForPhase(row.phase);
      this.cached = { mode, at: Date.now() };
      return mode;
    } catch (err) {
      if (this.cached) {
        this.staleReads.inc();
        this.logger.warn({ msg: 'serving cached migration mode', phase: this.cached.mode.phase, error: (err as Error).message });
        return this.cached.mode;
      }
      throw new ServiceUnavailableError('Migration state cannot be read yet');
    }
  }
}
