import { Module } from '@nestjs/common';
import { RepairModule } from '../repair/repair.module';
import { SyncModule } from '../sync/sync.module';
import { TrafficModule } from '../traffic/traffic.module';
import { Cutover } from './cutover';
import { MoveCompleter } from './move-completer';
import { PhaseStateRepository } from './phase-state.repository';
import { TrafficMoveProcessor } from './traffic-move.processor';

/** What a `traffic` worker needs: the intent log and router, and the half of a move that commits it (with its cutover). */
@Module({
  imports: [TrafficModule, SyncModule, RepairModule],
  providers: [PhaseStateRepository, Cutover, MoveCompleter, TrafficMoveProcessor],
  exports: [PhaseStateRepository, Cutover, MoveCompleter, TrafficMoveProcessor],
})
export class TrafficMoveModule {}
