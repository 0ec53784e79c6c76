/**
 * The stores' roles. The phase lives in PostgreSQL.
 * - `fresh()` reads it for this request: what reads of conversations use, so that none can be served from a
 *   store that stopped being the source of truth (writes read it under the write fence instead).
 * - `current()` caches it for MODE_CACHE_TTL_MS (default 1 s), for decisions where a phase a moment old is
 *   harmless (shadow sampling, repairs, status); when PostgreSQL cannot be read it keeps serving the last
 *   known mode.
 */
import { Inject, Injectable, Logger } from '@nestjs/common';
import { DUAL_WRITE_CONFIG, DualWriteConfig } from './dual-write.config';
import { MetricsService } from '../common/metrics/metrics.service';
import { ServiceUnavailableError } from '../common/errors';
import { MigrationMode, modeForPhase } from '../model/phases';
import { MigrationStateRepository } from './migration-state.repository';

@Injectable()
export class MigrationModeService {
  private readonly logger = new Logger('MigrationMode');
  private cached?: { mode: MigrationMode; at: number };
  private inflight?: Promise<MigrationMode>;
  private readonly staleReads;

  constructor(
    private readonly state: MigrationStateRepository,
    @Inject(DUAL_WRITE_CONFIG) private readonly config: DualWriteConfig,
    metrics: MetricsService,
  ) {
    this.staleReads = metrics.counter(
      'migration_mode_stale_total',
      'Requests served with a cached mode because PostgreSQL could not be read',
    );
  }

  async current(): Promise<MigrationMode> {
    const ttl = this.config.modeCacheTtlMs;
    if (this.cached && Date.now() - this.cached.at < ttl) return this.cached.mode;
    this.inflight ??= this.refresh().finally(() => (this.inflight = undefined));
    return this.inflight;
  }

  /** The phase as it is now; a read that fails is a 503 naming the new store (it holds the migration state). */
  async fresh(): Promise<MigrationMode> {
    const row = await this.state.read();
    const mode = modeForPhase(row.phase);
    this.cached = { mode, at: Date.now() };
    return mode;
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
