import { Global, Inject, Logger, Module, OnApplicationBootstrap } from '@nestjs/common';
import type { AppConfig } from '../config/app-config';
import { APP_CONFIG } from '../config/config.module';
import { MigrationModeService } from '../conversations/migration-mode.service';
import { MigrationStateRepository } from './migration-state.repository';

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
  providers: [MigrationStateRepository, MigrationModeService, { provide: InitialPhase, inject: [MigrationStateRepository, APP_CONFIG], useFactory: (s: MigrationStateRepository, c: AppConfig) => new InitialPhase(s, c) }],
  exports: [MigrationStateRepository, MigrationModeService],
})
export class MigrationStateModule {}
