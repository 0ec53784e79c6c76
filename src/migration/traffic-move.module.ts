import { Module } from '@nestjs/common';
import { TrafficModule } from '../traffic/traffic.module';
import { MoveCompleter } from './move-completer';
import { PhaseStateRepository } from './phase-state.repository';
import { TrafficMoveProcessor } from './traffic-move.processor';

/** What a `traffic` worker needs: the intent log and router, and the half of a move that commits it. */
@Module({
  imports: [TrafficModule],
  providers: [PhaseStateRepository, MoveCompleter, TrafficMoveProcessor],
  exports: [PhaseStateRepository, MoveCompleter, TrafficMoveProcessor],
})
export class TrafficMoveModule {}
