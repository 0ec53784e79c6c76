import { Global, Inject, Logger, Module, OnApplicationBootstrap } from '@nestjs/common';
import type { AppConfig } from '../app-config';
import { APP_CONFIG } from '../app-config.module';
import { MigrationModeService } from './migration-mode.service';
import { MigrationStateRepository } from './migration-state.repository';
import { DataSource } from 'typeorm';
import { MetricsService } from '../common/metrics/metrics.service';
import { WRITE_FENCE } from './mode.tokens';
import { WriteFence } from './write-fence';
import { DATA_SOURCE } from '../stores/stores.module';

/** Applies MIGRATION_INITIAL_PHASE once, on a migration nobody has moved yet. */
class InitialPhase implements OnApplicationBootstrap {
  private readonly logger = new Logger('MigrationState');
  constructor(private readonly state: MigrationStateRepository, @Inject(APP_CONFIG) private readonly config: AppConfig) {}

  async onApplicationBootstrap(): Promise<void> {
    const phase = this.config.migration.initialPhase;
    if (phase && (await this.state.initialise(phase))) this.logger.log({ msg: 'initial migration phase set', phase });
  }
}

@Global()
@Module({
  providers: [
    MigrationStateRepository,
    MigrationModeService,
    { provide: InitialPhase, inject: [MigrationStateRepository, APP_CONFIG], useFactory: (s: MigrationStateRepository, c: AppConfig) => new InitialPhase(s, c) },
    {
      provide: WRITE_FENCE,
      inject: [DATA_SOURCE, APP_CONFIG, MetricsService],
      useFactory: (ds: DataSource, c: AppConfig, m: MetricsService) => new WriteFence(ds, c.dualWrite.fenceWaitMs, m),
    },
  ],
  exports: [MigrationStateRepository, MigrationModeService, WRITE_FENCE],
})
export class MigrationStateModule {}
