import type { PendingMove } from './move-completer';
import { Inject, Injectable } from '@nestjs/common';
import { MIGRATION_CONFIG, MigrationConfig } from './migration.config';
import { TRAFFIC_ROUTER, TrafficRouter } from '../traffic/traffic-router.port';
import { TrafficService } from '../traffic/traffic.service';
import { indexOf, PLAN, stepName } from './domain/phase-plan';
import { modeForPhase } from '../model/phases';
import { GATE_FIGURES, GateFiguresSource } from './gate-figures.port';
import { MigrationService } from './migration.service';
import { PhaseStateRepository } from './phase-state.repository';
import { POSTGRES_OUTBOX } from '../repair/repair.service';
import type { PostgresRepairOutbox } from '../repair/repair-outbox';

/** `GET /migration/status`: everything an operator needs to decide the next move, in one answer. */
@Injectable()
export class MigrationStatusService {
  constructor(
    private readonly state: PhaseStateRepository,
    private readonly migration: MigrationService,
    private readonly traffic: TrafficService,
    @Inject(TRAFFIC_ROUTER) private readonly router: TrafficRouter,
    @Inject(GATE_FIGURES) private readonly figures: GateFiguresSource,
    @Inject(MIGRATION_CONFIG) private readonly config: MigrationConfig,
    @Inject(POSTGRES_OUTBOX) private readonly outbox: PostgresRepairOutbox,
  ) {}

  async status() {
    const s = await this.state.read();
    const position = PLAN[indexOf(s)];
    const mode = modeForPhase(s.phase);
    const [next, lastTrafficChange, inEffect, summaries, followUps, lastFlip] = await Promise.all([
      this.migration.nextGates(s),
      this.traffic.last(),
      this.router.read().catch((err: Error) => ({ error: err.message })),
      this.figures.summaries(s),
      this.outbox.lag(),
      this.state.lastFlip(),
    ]);
    return {
      phase: s.phase,
      step: stepName(position),
      weights: { newPercent: position.weight, legacyPercent: 100 - position.weight, provider: this.traffic.provider, inEffect },
      sourceOfTruth: mode.sourceOfTruth,
      dualWrite: mode.dualWrite,
      readFrom: mode.readFrom,
      shadowComparison: mode.shadow,
      paused: s.paused,
      enteredAt: s.enteredAt.toISOString(),
      revision: s.revision,
      // The claim stores a PendingMove (MigrationService.decide); the row's column is typed as plain JSON.
      pendingMove: s.pendingMove as PendingMove | null,
      flippedAt: s.flippedAt?.toISOString() ?? null,
      legacyDrainedSince: s.legacyDrainedSince?.toISOString() ?? null,
      next: { step: next.to, gates: next.gates, allPass: next.gates.every((g) => g.pass) },
      gateProfile: this.config.gates,
      analysisWindowMs: this.config.analysisWindowMs,
      autoProgression: { ...this.config.auto, failedChecks: s.autoFailures },
      lastTrafficChange,
      /** Follow-ups not yet settled (in deprecation: how far legacy lags the source of truth). */
      followUps,
      /** The last flip of the source of truth and how long writes paused for it. */
      lastFlip,
      ...summaries,
    };
  }
}
