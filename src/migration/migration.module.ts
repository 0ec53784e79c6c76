import { Module } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { MIGRATION_CONFIG, MigrationConfig } from './migration.config';
import { RepairModule } from '../repair/repair.module';
import { ShadowModule } from '../shadow/shadow.module';
import { DATA_SOURCE } from '../stores/stores.module';
import { SyncModule } from '../sync/sync.module';
import { AutoProgression } from './auto-progression';
import { GATE_FIGURES } from './gate-figures.port';
import { LiveGateFigures } from './live-gate-figures';
import { MigrationStatusService } from './migration-status.service';
import { MigrationController } from './migration.controller';
import { MigrationService } from './migration.service';
import { PhaseStateRepository } from './phase-state.repository';
import { CleanupRunsModule } from '../cleanup/cleanup-runs.module';
import { TrafficMoveModule } from './traffic-move.module';

@Module({
  imports: [SyncModule, ShadowModule, RepairModule, TrafficMoveModule, CleanupRunsModule],
  controllers: [MigrationController],
  providers: [
    { provide: GATE_FIGURES, useClass: LiveGateFigures },
    MigrationService,
    MigrationStatusService,
    {
      provide: AutoProgression,
      inject: [MigrationService, PhaseStateRepository, DATA_SOURCE, MIGRATION_CONFIG],
      useFactory: (m: MigrationService, s: PhaseStateRepository, ds: DataSource, c: MigrationConfig) =>
        new AutoProgression(m, s, ds, c.auto),
    },
  ],
  exports: [MigrationService, TrafficMoveModule, AutoProgression],
})
export class MigrationModule {}
