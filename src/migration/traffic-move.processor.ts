/**
 * The `traffic` queue's worker side: carries a traffic change to done (or undoes it), then commits or
 * releases the phase move it belongs to. At start-up it recovers what a crash left behind:
 * - an open intent (`intent` or `submitted`) is queued again and finished or undone;
 * - a finished change whose move is still pending gets its move committed (done) or released;
 * - a move with no change at all whose process no longer holds the move lock (it died before writing the
 *   intent) is released.
 */
import { Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import type { Job } from 'bullmq';
import { QueueName } from '../queues/queue-names';
import type { JobPayloads, QueueProcessor } from '../queues/queue-processor';
import { TERMINAL_STATES, TrafficChange, TrafficService } from '../traffic/traffic.service';
import { isPendingMove, MoveCompleter } from './move-completer';
import { PhaseStateRepository } from './phase-state.repository';

@Injectable()
export class TrafficMoveProcessor implements QueueProcessor<QueueName.Traffic>, OnApplicationBootstrap {
  readonly queue = QueueName.Traffic;
  /** One change at a time: Route 53 refuses a change while the previous one is pending anyway. */
  readonly concurrency = 1;
  /** A worker that dies mid-change is noticed within seconds, and its job handed to another worker. */
  readonly workerOptions = { lockDuration: 10_000, stalledInterval: 5_000, maxStalledCount: 5 };
  private readonly logger = new Logger('TrafficMoveProcessor');

  constructor(
    private readonly traffic: TrafficService,
    private readonly completer: MoveCompleter,
    private readonly state: PhaseStateRepository,
  ) {}

  async process(job: Job<JobPayloads[QueueName.Traffic]>): Promise<unknown> {
    const change = await this.traffic.execute(job.data.changeId);
    await this.settleMove(change);
    return { id: change.id, state: change.state };
  }

  /** Commits (done) or releases (failed, undone) the move a finished change belongs to. */
  async settleMove(change: TrafficChange): Promise<void> {
    if (!TERMINAL_STATES.includes(change.state) || !isPendingMove(change.move)) return;
    if (change.state === 'done') {
      if (await this.completer.commit(change.move, change))
        this.logger.log({ msg: 'move committed', to: change.move.to, trafficChange: change.id });
    } else if (
      await this.completer.abandon(change.move, change.error ?? change.state, { trafficChangeId: change.id, trafficState: change.state })
    ) {
      this.logger.warn({ msg: 'move abandoned', to: change.move.to, trafficChange: change.id, state: change.state });
    }
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.recover().catch((err) => this.logger.error({ msg: 'traffic recovery failed', error: (err as Error).message }));
  }

  async recover(): Promise<{ requeued: number[]; settled: number[]; released: boolean }> {
    const requeued: number[] = [];
    for (const change of await this.traffic.openIntents()) {
      if (await this.traffic.enqueue(change)) requeued.push(change.id);
    }
    const settled: number[] = [];
    let released = false;
    const s = await this.state.read();
    if (isPendingMove(s.pendingMove)) {
      const move = s.pendingMove;
      const change = await this.traffic.forMove(move.claimedRevision);
      if (change && TERMINAL_STATES.includes(change.state)) {
        await this.settleMove(change);
        settled.push(change.id);
      } else if (!change && (await this.state.moveClaimerGone())) {
        released = await this.completer.abandon(move, 'the process making this move stopped before its traffic change was written');
      }
    }
    if (requeued.length + settled.length > 0 || released)
      this.logger.warn({ msg: 'recovered unfinished traffic work', requeued, settled, released });
    return { requeued, settled, released };
  }
}
