import { Global, Module } from '@nestjs/common';
import { MigrationModeService } from '../conversations/migration-mode.service';
import { MigrationStateRepository } from './migration-state.repository';

@Global()
@Module({ providers: [MigrationStateRepository, MigrationModeService], exports: [MigrationStateRepository, MigrationModeService] })
export class MigrationStateModule {}
