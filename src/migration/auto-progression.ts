/**
 * Automatic progression (SPEC section 3, as Flagger does it), off by default. Every interval one
 * replica (a PostgreSQL advisory lock held for the tick) evaluates the next step's gates:
 * - all pass (dwell included) -> advance;
 * - only the dwell is pending -> wait;
 * - anything else fails -> count a failed check; at the threshold, roll back one step and pause.
 * It never advances into `cleanup`: retiring the legacy store stays an operator's decision.
 */
import { Inject, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { AdvisoryLock, whileHolding } from '../common/advisory-lock';
import type { MigrationConfig } from './migration.config';
import { failing } from './domain/gates';
import { MigrationService } from './migration.service';
import { PhaseStateRepository } from './phase-state.repository';

export const AUTO_ACTOR = 'auto-progression';

export type TickOutcome = 'disabled' | 'not_leader' | 'idle' | 'waiting' | 'advanced' | 'failed_check' | 'rolled_back';

export class AutoProgression implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('AutoProgression');
  private timer?: NodeJS.Timeout;
  private running = false;

  constructor(
    private readonly migration: MigrationService,
    private readonly state: PhaseStateRepository,
    @Inject(DataSource) private readonly dataSource: DataSource,
    private readonly config: MigrationConfig['auto'],
  ) {}

  onApplicationBootstrap(): void {
    if (!this.config.enabled) return;
    this.timer = setInterval(
      () => void this.tick().catch((err) => this.logger.warn({ msg: 'auto-progression tick failed', error: (err as Error).message })),
      this.config.intervalMs,
    );
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  async tick(): Promise<TickOutcome> {
    if (this.running) return 'not_leader';
    this.running = true;
    try {
      return await whileHolding(this.dataSource, AdvisoryLock.AutoProgression, 'not_leader' as const, () => this.decide());
    } finally {
      this.running = false;
    }
  }

  private async decide(): Promise<TickOutcome> {
    const s = await this.state.read();
    if (s.paused || s.pendingMove || ['not_started', 'deprecation', 'cleanup', 'complete'].includes(s.phase)) return 'idle';
    const { to, gates } = await this.migration.nextGates(s);
    if (!to) return 'idle';
    const failed = failing(gates);
    if (failed.length === 0) {
      await this.migration.advance({ actor: AUTO_ACTOR, reason: 'every gate passed', expectedStep: undefined });
      return 'advanced';
    }
    if (failed.every((g) => g.name === 'dwell')) return 'waiting';
    const failures = s.autoFailures + 1;
    if (failures < this.config.threshold) {
      await this.state.setAutoFailures(failures);
      return 'failed_check';
    }
    const reason = `${failures} failed checks: ${failed.map((g) => `${g.name}=${JSON.stringify(g.value)} (${g.threshold})`).join(', ')}`;
    if (s.phase !== 'shadow') await this.migration.rollback({ actor: AUTO_ACTOR, reason });
    await this.migration.pause(AUTO_ACTOR, reason);
    return 'rolled_back';
  }
}
