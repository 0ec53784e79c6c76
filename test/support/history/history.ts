/**
 * The history a Jepsen-style run records: one entry per logical client operation (its attempts inside
 * it), one per operator flip request, one per injected fault. Times are the test process's monotonic
 * clock (performance.now(), milliseconds), so "completed before invoked" comparisons mean real time.
 *
 * Outcomes follow Jepsen: `ok` (the service acknowledged it), `fail` (it certainly did not happen: a 4xx,
 * or a connection that was refused before anything was sent) and `info` (indeterminate: a timeout, a
 * reset connection, a 5xx; the write may or may not have happened).
 */
import { performance } from 'node:perf_hooks';

export type Outcome = 'ok' | 'fail' | 'info';
export type OpKind = 'create' | 'append' | 'patch' | 'delete' | 'read' | 'list';
export type WriteKind = 'create' | 'append' | 'patch' | 'delete';

/** One HTTP request of an operation (first try, a retry, or a deliberate re-submission). */
export interface Attempt {
  replica: number;
  invokeMs: number;
  completeMs: number;
  outcome: Outcome;
  /** 0 when no HTTP response came back. */
  status: number;
  /** The error `code` of an error body, or the network error's name. */
  code?: string;
  /** The conversation id the response named (creates), and its version. */
  id?: string;
  version?: number;
  /** Where an append's answer put its message: a minimal answer's `messageCount` - 1, else the last of its `messages`. */
  position?: number;
  /** A digest of a 2xx answer's JSON body, its keys sorted (the same body, however it is ordered, has the same one). */
  bodyDigest?: string;
  /** Set on a response the service says it replayed (Idempotent-Replayed: true). */
  replayed?: boolean;
  /** A re-submission of an already acknowledged keyed request (same key, same body, other replica). */
  resubmit?: boolean;
}

export interface HistoryOp {
  /** Unique within a history. */
  opId: number;
  /** Which client process made it (`c3`, `setup`, `legacy-app`). */
  process: string;
  kind: OpKind;
  /** The conversation written or read; for a create, the id the service returned (when it returned one). */
  conversationId?: string;
  /** Replica of the first attempt. */
  replica: number;
  /** First attempt's invocation, and the completion of the attempt that decided the outcome. */
  invokeMs: number;
  completeMs: number;
  outcome: Outcome;
  status: number;
  /** The version acknowledged (writes) or returned (reads; 0 for a 404). */
  version?: number;
  /** The unique text this operation wrote: the appended message, or a create's first message. */
  content?: string;
  idempotencyKey?: string;
  /** PATCH sent with If-Match. */
  ifMatch?: number;
  /** Message texts a read returned, in order (reads only). */
  messages?: string[];
  /** The owner a create made the conversation for, or whose conversations a listing asked for. */
  userId?: string;
  /** What a listing returned, every page of it (listings only). */
  listed?: Array<{ id: string; version: number }>;
  attempts: Attempt[];
}

export type FlipDirection = 'advance' | 'rollback';

/** One operator request that tries to move the source of truth. */
export interface FlipRequest {
  direction: FlipDirection;
  /** The logical flip this request belongs to (an unforced advance and its forced retry share one). */
  flipId: number;
  replica: number;
  invokeMs: number;
  completeMs: number;
  status: number;
  code?: string;
  forced: boolean;
  /** The move happened: answered 200, or answered 202 and committed afterwards (acceptedUntilMs). */
  ok: boolean;
  message?: string;
  /**
   * Answered 202 (the move goes on after the answer): when the operator saw it end, committed or refused (`ok`, and
   * for a refusal `code` ACCEPTED_THEN_FAILED with the audit log's error in `message`).
   */
  acceptedUntilMs?: number;
}

export interface FaultEvent {
  kind:
    | 'kill-api'
    | 'restart-api'
    | 'kill-worker'
    | 'restart-worker'
    | 'pause-api'
    | 'resume-api'
    | 'pause-worker'
    | 'resume-worker'
    | 'kill-redis-clients'
    | 'freeze-redis'
    | 'thaw-redis'
    | 'flushall'
    | 'kill-legacy'
    | 'legacy-majority-late'
    | 'legacy-majority-back'
    | 'start-legacy'
    | 'end-pg-sessions'
    | 'pg-sessions-left-alone'
    | 'crash-pg'
    | 'start-pg';
  target?: string;
  atMs: number;
}

/**
 * One of the operator's requests other than a flip, as it was answered: the status read between flips, and the
 * sync and verification requests made throughout (a verification started, the runs and the sync status read).
 */
export interface OperatorRead {
  /** GET when absent (histories recorded before other requests were). */
  method?: string;
  path: string;
  replica: number;
  invokeMs: number;
  completeMs: number;
  /** 0 when no HTTP response came back. */
  status: number;
  code?: string;
}

export interface History {
  ops: HistoryOp[];
  flips: FlipRequest[];
  faults: FaultEvent[];
  /** The operator's requests but flips (status reads, sync and verification requests); held to the server-error rule like the rest. */
  operatorReads?: OperatorRead[];
}

export const now = (): number => performance.now();

/**
 * The `process` of the legacy application's own writes (straight to legacy, not through the API), and the replica
 * number its attempts carry.
 */
export const LEGACY_APPLICATION = 'legacy-app';
export const LEGACY_APPLICATION_REPLICA = -1;

/** Collects a history from concurrent clients (single-threaded JS: pushing is safe). */
export class HistoryRecorder {
  private nextOpId = 1;
  private nextFlipId = 1;
  readonly history: History = { ops: [], flips: [], faults: [], operatorReads: [] };

  newOpId(): number {
    return this.nextOpId++;
  }

  newFlipId(): number {
    return this.nextFlipId++;
  }

  op(op: HistoryOp): void {
    this.history.ops.push(op);
  }

  flip(f: FlipRequest): void {
    this.history.flips.push(f);
  }

  operatorRead(r: OperatorRead): void {
    this.history.operatorReads!.push(r);
  }

  fault(kind: FaultEvent['kind'], target?: string): void {
    this.history.faults.push({ kind, target, atMs: now() });
  }
}

/**
 * The outcome of a logical operation from its attempts: acknowledged if any attempt was (a retry that
 * got the replayed response counts); else indeterminate if any attempt may have written; else failed.
 * Re-submissions after the acknowledgement are judged separately (they never change the outcome).
 */
export function decide(attempts: Attempt[]): { outcome: Outcome; decisive: Attempt } {
  const tries = attempts.filter((a) => !a.resubmit);
  const ok = tries.find((a) => a.outcome === 'ok');
  if (ok) return { outcome: 'ok', decisive: ok };
  const last = tries[tries.length - 1];
  if (tries.some((a) => a.outcome === 'info')) return { outcome: 'info', decisive: last };
  return { outcome: 'fail', decisive: last };
}
