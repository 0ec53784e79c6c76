import { Logger, Module, OnApplicationBootstrap } from '@nestjs/common';
import { MigrationStateRepository } from '../mode/migration-state.repository';
import { MIGRATION_CONFIG, MigrationConfig } from './migration.config';

/** Applies MIGRATION_INITIAL_PHASE once, on a migration nobody has moved yet. */
class InitialPhase implements OnApplicationBootstrap {
  private readonly logger = new Logger('MigrationState');
  constructor(
    private readonly state: MigrationStateRepository,
    private readonly config: MigrationConfig,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const phase = this.config.initialPhase;
    if (phase && (await this.state.initialise(phase, this.config.cutoverLockTimeoutMs)))
      this.logger.log({ msg: 'initial migration phase set', phase });
  }
}

/** Every process (API and worker) applies the initial phase setting at boot. */
@Module({
  providers: [
    {
      provide: InitialPhase,
      inject: [MigrationStateRepository, MIGRATION_CONFIG],
      useFactory: (s: MigrationStateRepository, c: MigrationConfig) => new InitialPhase(s, c),
    },
  ],
})
export class InitialPhaseModule {}
