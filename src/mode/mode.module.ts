import { Global, Module } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { MetricsService } from '../common/metrics/metrics.service';
import { DATA_SOURCE } from '../stores/stores.module';
import { DUAL_WRITE_CONFIG, DualWriteConfig } from './dual-write.config';
import { MigrationModeService } from './migration-mode.service';
import { MigrationStateRepository } from './migration-state.repository';
import { WRITE_FENCE } from './mode.tokens';
import { WriteFence } from './write-fence';

/** The phase register's read side, for every process: the state row, the mode cache and the write fence. */
@Global()
@Module({
  providers: [
    MigrationStateRepository,
    MigrationModeService,
    {
      provide: WRITE_FENCE,
      inject: [DATA_SOURCE, DUAL_WRITE_CONFIG, MetricsService],
      useFactory: (ds: DataSource, c: DualWriteConfig, m: MetricsService) => new WriteFence(ds, c.fenceWaitMs, m),
    },
  ],
  exports: [MigrationStateRepository, MigrationModeService, WRITE_FENCE],
})
export class ModeModule {}
