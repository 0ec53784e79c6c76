/**
 * The phase machine. Every move follows one path, so nothing can half-happen silently:
 *   read state -> check expectedStep -> plan the move (phase-plan.ts) -> evaluate gates (gates.ts)
 *   -> dry run stops here -> claim the state row (compare-and-set on revision) -> the cutover's first
 *   half when the move changes the source of truth or stops dual writes (cutover.ts) -> traffic change
 *   written to the intent log and run as a `traffic` job -> commit the new position under the write
 *   fence (with the cutover's fenced half) -> audit.
 * A move that changes the source of truth never carries a traffic change: a rollback from deprecation to
 * an earlier rollout step is made as the flip back to rollout 100 % and then the traffic rollback.
 * The request waits for the change (TRAFFIC_WAIT_MS) and answers with the new step; past that it
 * answers 202 and the worker commits the move when the change is done. A failed or undone change
 * releases the claim and leaves the phase where it was, and says why.
 */
import { Inject, Injectable, Logger } from '@nestjs/common';
import { MIGRATION_CONFIG, MigrationConfig } from './migration.config';
import { CleanupService } from '../cleanup/cleanup.service';
import { DomainError } from '../common/errors';
import { settlesWithin } from '../common/timeout';
import { MigrationModeService } from '../mode/migration-mode.service';
import { Cutover, cutoverKind } from './cutover';
import { SyncControlService } from '../sync/sync-control.service';
import { TrafficChange, TrafficChangeFailedError, TrafficRequest, TrafficService } from '../traffic/traffic.service';
import { weightsForPercent } from '../traffic/traffic-router.port';
import { evaluateGates, failing, failingInterlocks, GateFigures, GateResult } from './domain/gates';
import {
  advanceMove,
  indexOf,
  Move,
  PLAN,
  PlanError,
  Position,
  positionNamed,
  rollbackMove,
  startMove,
  stepName,
} from './domain/phase-plan';
import { modeForPhase } from '../model/phases';
import { GATE_FIGURES, GateFiguresSource } from './gate-figures.port';
import { Committed, isPendingMove, MoveCompleter, PendingMove } from './move-completer';
import { PhaseState, PhaseStateRepository } from './phase-state.repository';

export interface MoveRequest {
  actor: string;
  reason?: string;
  expectedStep?: string;
  force?: boolean;
  dryRun?: boolean;
  to?: string;
}

export interface MoveResult {
  dryRun: boolean;
  action: Move['kind'];
  from: string;
  to: string;
  weights: { before: number; after: number };
  mode: { before: ReturnType<typeof modeForPhase>; after: ReturnType<typeof modeForPhase> };
  gates: GateResult[];
  forced: boolean;
  trafficChange: TrafficChange | null;
  /** True when the traffic change was still under way when the request stopped waiting (HTTP 202). */
  pending?: boolean;
  /** How long writes paused for the commit (waiting for those in flight, then holding them), and the cutover's work. */
  committed?: Committed;
  /** A rollback out of deprecation to an earlier step: the flip back that came first. */
  flippedBack?: MoveResult;
  /** The archive run started by the move into cleanup. */
  archive?: unknown;
}

const positionOf = (s: Pick<PhaseState, 'phase' | 'step'>): Position => PLAN[indexOf(s)];

/** Waits at most `ms` for `p`: a function giving its outcome (value or throw), or null when it is still running. */
async function settledWithin<T>(p: Promise<T>, ms: number): Promise<(() => T) | null> {
  const outcome = p.then(
    (value) => () => value,
    (err: unknown) => () => {
      throw err;
    },
  );
  return (await settlesWithin(outcome, ms)) ? outcome : null;
}

function planOrRefuse<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    return planError(err);
  }
}

function planError(err: unknown): never {
  if (err instanceof PlanError) throw new DomainError(err.code, err.code === 'UNKNOWN_STEP' ? 400 : 409, err.message);
  throw err;
}

@Injectable()
export class MigrationService {
  private readonly logger = new Logger('MigrationService');

  constructor(
    private readonly state: PhaseStateRepository,
    private readonly traffic: TrafficService,
    private readonly mode: MigrationModeService,
    @Inject(GATE_FIGURES) private readonly figures: GateFiguresSource,
    private readonly cutover: Cutover,
    @Inject(MIGRATION_CONFIG) private readonly config: MigrationConfig,
    private readonly syncControl: SyncControlService,
    private readonly completer: MoveCompleter,
    private readonly cleanup: CleanupService,
  ) {}

  async figuresFor(s: PhaseState): Promise<GateFigures> {
    const collected = await this.figures.collect(s);
    return { ...collected, now: new Date(), enteredAt: s.enteredAt, legacyDrainedSince: s.legacyDrainedSince, flippedAt: s.flippedAt };
  }

  /** The gates the next advance would face, with their current values. */
  async nextGates(s: PhaseState): Promise<{ to: string | null; gates: GateResult[] }> {
    if (s.phase === 'not_started' || s.phase === 'complete') return { to: null, gates: [] };
    const move = advanceMove(positionOf(s));
    if (move.kind !== 'advance') return { to: null, gates: [] };
    return { to: stepName(move.to), gates: evaluateGates(move.gates, await this.figuresFor(s), this.config.gates) };
  }

  start(req: MoveRequest): Promise<MoveResult> {
    return this.move(req, (from) => startMove(from));
  }

  advance(req: MoveRequest): Promise<MoveResult> {
    return this.move(req, (from) => advanceMove(from));
  }

  async rollback(req: MoveRequest): Promise<MoveResult> {
    const flipBack = positionNamed('rollout-100');
    const s = await this.state.read();
    const target = req.to === undefined ? undefined : planOrRefuse(() => positionNamed(req.to!));
    if (s.phase !== 'deprecation' || req.dryRun || !target || indexOf(target) >= indexOf(flipBack)) {
      return this.move(req, (from) => rollbackMove(from, req.to));
    }
    // The source of truth flips back on its own, then the traffic moves: one is never committed with the other.
    const flippedBack = await this.move({ ...req, to: stepName(flipBack) }, (from) => rollbackMove(from, stepName(flipBack)));
    const rest = await this.move({ ...req, expectedStep: stepName(flipBack) }, (from) => rollbackMove(from, req.to));
    return { ...rest, flippedBack };
  }

  private async move(req: MoveRequest, plan: (from: Position) => Move): Promise<MoveResult> {
    if (req.force && !req.reason?.trim())
      throw new DomainError('VALIDATION_FAILED', 400, 'force needs a reason', [{ field: 'reason', message: 'is required with force' }]);
    if (req.dryRun) return this.decide(req, plan, await this.state.read());

    const lock = await this.state.holdMoveLock();
    if (!lock) throw new DomainError('MOVE_IN_PROGRESS', 409, 'Another move is being made right now; read the status and try again');
    let background: Promise<unknown> | null = null;
    try {
      return await this.decide(req, plan, await this.releaseAbandoned(await this.state.read()), (work) => {
        background = work;
      });
    } finally {
      const release = () => lock.release().catch(() => undefined);
      if (background) void (background as Promise<unknown>).finally(release);
      else await release();
    }
  }

  /**
   * A pending move seen while this process holds the move lock is not being worked on: its process died, or
   * finished its part and left a traffic change to a worker. Without a traffic change it is released here
   * (audited), so one crashed request never locks the migration; with one, the worker settles it.
   */
  private async releaseAbandoned(s: PhaseState): Promise<PhaseState> {
    if (!isPendingMove(s.pendingMove)) return s;
    if (await this.traffic.forMove(s.pendingMove.claimedRevision)) {
      throw new DomainError(
        'MOVE_IN_PROGRESS',
        409,
        `A move is in progress (its traffic change is being applied): ${JSON.stringify(s.pendingMove)}`,
      );
    }
    await this.completer.abandon(s.pendingMove, 'the process making this move stopped before it finished');
    return this.state.read();
  }

  /** `keepLock`: the move goes on after the request answers; the move lock is released when `work` ends. */
  private async decide(
    req: MoveRequest,
    plan: (from: Position) => Move,
    s: PhaseState,
    keepLock: (work: Promise<unknown>) => void = () => undefined,
  ): Promise<MoveResult> {
    if (s.pendingMove) throw new DomainError('MOVE_IN_PROGRESS', 409, `A move is in progress: ${JSON.stringify(s.pendingMove)}`);
    const from = positionOf(s);
    if (req.expectedStep !== undefined && req.expectedStep !== stepName(from)) {
      throw new DomainError('STEP_CHANGED', 409, `expectedStep is ${req.expectedStep} but the migration is at ${stepName(from)}`);
    }
    let move: Move;
    try {
      move = plan(from);
    } catch (err) {
      planError(err);
    }
    const gateSet = move.kind === 'advance' || move.kind === 'rollback' ? move.gates : null;
    const gates = gateSet ? evaluateGates(gateSet, await this.figuresFor(s), this.config.gates) : [];
    const failed = failing(gates);
    const interlocks = failingInterlocks(gates);
    const result: MoveResult = {
      dryRun: !!req.dryRun,
      action: move.kind,
      from: stepName(move.from),
      to: stepName(move.to),
      weights: { before: move.from.weight, after: move.to.weight },
      mode: { before: modeForPhase(move.from.phase), after: modeForPhase(move.to.phase) },
      gates,
      forced: failed.length > 0 && !!req.force && interlocks.length === 0,
      trafficChange: null,
    };
    if (req.dryRun) return result;
    if (interlocks.length > 0) {
      throw new DomainError(
        'GATE_FAILED',
        409,
        `${failed.length} gate(s) failed for ${stepName(move.to)}, and force cannot pass ${interlocks.map((g) => g.name).join(', ')}`,
        failed as unknown as Record<string, unknown>[],
      );
    }
    if (failed.length > 0 && !req.force) {
      throw new DomainError(
        'GATE_FAILED',
        409,
        `${failed.length} gate(s) failed for ${stepName(move.to)}`,
        failed as unknown as Record<string, unknown>[],
      );
    }

    const traffic = this.trafficFor(move);
    if (traffic && cutoverKind(move.from, move.to)) {
      throw new Error(
        `a move that changes the source of truth or stops dual writes cannot also change traffic (${result.from} -> ${result.to})`,
      );
    }
    const pending: PendingMove = {
      action: move.kind,
      from: result.from,
      to: result.to,
      fromPosition: move.from,
      toPosition: move.to,
      claimedRevision: s.revision + 1,
      by: req.actor,
      reason: req.reason ?? null,
      forced: result.forced,
      at: new Date().toISOString(),
      gates,
    };
    if (!(await this.state.claim(s.revision, pending as unknown as Record<string, unknown>))) {
      throw new DomainError(
        'CONCURRENT_CHANGE',
        409,
        'The migration changed while this request was being decided; read the status and try again',
      );
    }
    if (!traffic) {
      // No traffic change: the cutover (if the move needs one) and the commit. Preparing a cutover under live
      // writes can outlast a request; past TRAFFIC_WAIT_MS the answer is 202 and the work goes on in this
      // process, which keeps the move lock until it is done (status follows it; if the process dies, the claim
      // is released by the next move or a worker's recovery).
      const work = this.prepareAndCommit(move, pending, s, req.actor, result);
      const done = await settledWithin(work, this.config.trafficWaitMs);
      if (done === null) {
        keepLock(
          work.catch((err: Error) =>
            this.logger.warn({ msg: 'move did not complete after its request answered', to: result.to, error: err.message }),
          ),
        );
        result.pending = true;
        return result;
      }
      return done();
    }
    let change: TrafficChange;
    try {
      change = await this.traffic.request({ ...traffic, move: pending as unknown as Record<string, unknown> });
    } catch (err) {
      await this.completer.abandon(pending, (err as Error).message);
      throw err;
    }
    // The change runs in a `traffic` job; the phase moves when (and only if) it is done.
    result.trafficChange = await this.traffic.waitFor(change.id, this.config.trafficWaitMs);
    const outcome = result.trafficChange;
    if (outcome.state === 'done') {
      result.committed = (await this.completer.commit(pending, outcome)) ?? undefined;
      this.mode.invalidate();
      return result;
    }
    if (outcome.state === 'failed' || outcome.state === 'undone') {
      await this.completer.abandon(pending, outcome.error ?? outcome.state, { trafficChangeId: outcome.id, trafficState: outcome.state });
      throw new TrafficChangeFailedError(outcome);
    }
    result.pending = true;
    return result;
  }

  /** The cutover's first half (when the move needs one), then the commit (with its fenced half); abandoned on failure. */
  private async prepareAndCommit(move: Move, pending: PendingMove, s: PhaseState, actor: string, result: MoveResult): Promise<MoveResult> {
    let committed: Committed | null;
    try {
      const prepared = await this.cutover.prepare(move.from, move.to, s.flippedAt);
      if (prepared) pending.cutover = prepared.plan;
      try {
        committed = await this.completer.commit(pending, null, prepared?.catchup ?? null);
      } finally {
        await prepared?.release();
      }
    } catch (err) {
      // Refused before or under the fence (rollback not proven, writes in flight too long, no catch-up pass): nothing changed.
      await this.completer.abandon(pending, (err as Error).message);
      throw err;
    }
    if (!committed) throw new DomainError('CONCURRENT_CHANGE', 409, 'The migration state changed during the move');
    result.committed = committed;
    this.mode.invalidate();
    if (move.to.phase === 'cleanup') result.archive = await this.startArchive(actor);
    return result;
  }

  /** Entering cleanup starts the legacy archive (the gate into complete waits for it to be verified). */
  private async startArchive(actor: string): Promise<unknown> {
    try {
      return (await this.cleanup.start(actor)).run;
    } catch (err) {
      // The move stands; the operator starts the archive once the target is configured.
      return { state: 'not_started', error: (err as Error).message };
    }
  }

  /** The traffic change a move needs, if any: new weights, or retiring the legacy record on reaching `complete`. */
  private trafficFor(move: Move): Omit<TrafficRequest, 'move'> | null {
    if (move.to.phase === 'complete')
      return { kind: 'retire_legacy', weights: { legacy: 0, new: 100 }, before: weightsForPercent(move.from.weight) };
    if (move.to.weight === move.from.weight) return null;
    return { kind: 'weights', weights: weightsForPercent(move.to.weight), before: weightsForPercent(move.from.weight) };
  }

  async pause(actor: string, reason?: string): Promise<void> {
    await this.state.setPaused(true);
    await this.syncControl.pause(actor, reason);
    await this.state.audit({ actor, action: 'pause', reason: reason ?? null, forced: false, before: null, after: null, details: null });
  }

  async resume(actor: string, reason?: string): Promise<void> {
    await this.state.setPaused(false);
    await this.syncControl.resume(actor);
    await this.state.audit({ actor, action: 'resume', reason: reason ?? null, forced: false, before: null, after: null, details: null });
  }
}
