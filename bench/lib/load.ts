/**
 * Closed-loop load: `concurrency` workers, each sending its next operation as soon as the previous one
 * answered, until `count` operations were started or `durationMs` passed (whichever comes first).
 * Latency is measured per operation with the monotonic clock; failed operations are counted apart
 * and kept out of the latency samples.
 */
import { performance } from 'node:perf_hooks';
import { stopRequested } from './cleanup';

export interface LoadOptions {
  concurrency: number;
  /** Stop after this many operations (started). */
  count?: number;
  /** Stop starting new operations after this long. */
  durationMs?: number;
}

/** An operation returns a label (e.g. the request kind) used for per-kind latencies. */
export type Operation = (index: number, worker: number) => Promise<string | void>;

export interface LoadResult {
  /** Latencies (ms) of the successful operations, in completion order. */
  latenciesMs: number[];
  byKind: Record<string, number[]>;
  ok: number;
  errors: number;
  errorSamples: string[];
  elapsedMs: number;
  /** Successful operations per second over the whole run. */
  rps: number;
}

/** What a load run records: each operation's latency (by kind) or its failure, and the result at the end. */
class Recorder {
  private readonly latenciesMs: number[] = [];
  private readonly byKind: Record<string, number[]> = {};
  private readonly errorSamples: string[] = [];
  private errors = 0;
  readonly start = performance.now();

  /** Runs operation `i` of client `w`; its latency runs from `from` (a performance.now() time). */
  async run(op: Operation, i: number, w: number, from: number): Promise<void> {
    try {
      const kind = await op(i, w);
      const ms = performance.now() - from;
      this.latenciesMs.push(ms);
      if (kind) (this.byKind[kind] ??= []).push(ms);
    } catch (err) {
      this.errors++;
      if (this.errorSamples.length < 5) this.errorSamples.push(err instanceof Error ? err.message : String(err));
    }
  }

  result(): LoadResult {
    const elapsedMs = performance.now() - this.start;
    const { latenciesMs, byKind, errors, errorSamples } = this;
    return { latenciesMs, byKind, ok: latenciesMs.length, errors, errorSamples, elapsedMs, rps: latenciesMs.length / (elapsedMs / 1000) };
  }
}

export async function closedLoop(op: Operation, options: LoadOptions): Promise<LoadResult> {
  const { concurrency } = options;
  const count = options.count ?? Number.POSITIVE_INFINITY;
  if (!Number.isFinite(count) && options.durationMs === undefined) throw new Error('closedLoop needs a count or a duration');
  const recorder = new Recorder();
  let next = 0;
  const deadline = options.durationMs === undefined ? Number.POSITIVE_INFINITY : recorder.start + options.durationMs;

  const worker = async (w: number) => {
    for (;;) {
      const i = next++;
      if (i >= count || performance.now() >= deadline || stopRequested()) return;
      await recorder.run(op, i, w, performance.now());
    }
  };
  await Promise.all(Array.from({ length: concurrency }, (_, w) => worker(w)));
  return recorder.result();
}

export interface OpenLoopOptions {
  /** Operations started per second, on a fixed schedule (operation i is due at start + i / rate). */
  rate: number;
  /** Stop after this many operations (scheduled). */
  count?: number;
  /** Schedule no operation after this long. */
  durationMs?: number;
  /**
   * Operation i belongs to client i % clients, and a client sends one operation at a time: one due while its
   * previous one is still in flight waits for it (as a chat user does), and that wait counts in its latency.
   */
  clients: number;
}

export interface OpenLoopResult extends LoadResult {
  rate: number;
  /** The largest delay between an operation's due time and its start (the load generator or a client falling behind). */
  maxStartLagMs: number;
}

/**
 * Open-loop load at a fixed arrival rate: the offered load does not fall when the server slows down, so the
 * latencies are those of the service at that load, not of a machine saturated by however many clients wait.
 * Each latency runs from the operation's due time, not from when it was sent (no coordinated omission): a
 * stall of the server or of this process shows in every operation that was due during it.
 */
export async function openLoop(op: Operation, options: OpenLoopOptions): Promise<OpenLoopResult> {
  const { rate, clients } = options;
  const count = options.count ?? Number.POSITIVE_INFINITY;
  if (!(rate > 0)) throw new Error('openLoop needs a positive rate');
  if (!Number.isFinite(count) && options.durationMs === undefined) throw new Error('openLoop needs a count or a duration');
  const intervalMs = 1000 / rate;
  const last = Math.min(count, options.durationMs === undefined ? count : Math.floor((options.durationMs / 1000) * rate));
  const recorder = new Recorder();
  let maxStartLagMs = 0;

  // One chain per client: its operations run in order, each no earlier than it is due.
  const client = async (c: number) => {
    for (let i = c; i < last; i += clients) {
      if (stopRequested()) return;
      const due = recorder.start + i * intervalMs;
      const wait = due - performance.now();
      if (wait > 1) await new Promise((r) => setTimeout(r, wait));
      maxStartLagMs = Math.max(maxStartLagMs, performance.now() - due);
      await recorder.run(op, i, c, due);
    }
  };
  await Promise.all(Array.from({ length: clients }, (_, c) => client(c)));
  return { ...recorder.result(), rate, maxStartLagMs };
}
