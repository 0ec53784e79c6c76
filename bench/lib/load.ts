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

export async function closedLoop(op: Operation, options: LoadOptions): Promise<LoadResult> {
  const { concurrency } = options;
  const count = options.count ?? Number.POSITIVE_INFINITY;
  if (!Number.isFinite(count) && options.durationMs === undefined) throw new Error('closedLoop needs a count or a duration');
  const latenciesMs: number[] = [];
  const byKind: Record<string, number[]> = {};
  const errorSamples: string[] = [];
  let errors = 0;
  let next = 0;
  const start = performance.now();
  const deadline = options.durationMs === undefined ? Number.POSITIVE_INFINITY : start + options.durationMs;

  const worker = async (w: number) => {
    for (;;) {
      const i = next++;
      if (i >= count || performance.now() >= deadline || stopRequested()) return;
      const t0 = performance.now();
      try {
        const kind = await op(i, w);
        const ms = performance.now() - t0;
        latenciesMs.push(ms);
        if (kind) (byKind[kind] ??= []).push(ms);
      } catch (err) {
        errors++;
        if (errorSamples.length < 5) errorSamples.push(err instanceof Error ? err.message : String(err));
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, (_, w) => worker(w)));
  const elapsedMs = performance.now() - start;
  return {
    latenciesMs,
    byKind,
    ok: latenciesMs.length,
    errors,
    errorSamples,
    elapsedMs,
    rps: latenciesMs.length / (elapsedMs / 1000),
  };
}
