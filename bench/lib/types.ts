/**
 * What a bench scenario produces: one JSON object per figure. `bench` names the scenario, `figure`
 * the measurement; comparisons carry the measured side, the baseline, `ratio`, `target` and `pass`.
 */
export interface BenchLine {
  bench: string;
  figure: string;
  [key: string]: unknown;
}

/** A scenario module under bench/scenarios/<name>.ts exports `run`. */
export interface ScenarioModule {
  run(): Promise<BenchLine[]>;
}

let sink: ((line: BenchLine) => void) | null = null;

/** bench/run.ts: where lines flushed early go (printed and written to the results file at once). */
export function setLineSink(f: ((line: BenchLine) => void) | null): void {
  sink = f;
}

/**
 * A long scenario's figures so far, out now (and removed from `lines`), so that a run stopped later keeps them
 * in the results file. Without a sink (the scenario called on its own) the lines stay where they are.
 */
export function flushLines(lines: BenchLine[]): void {
  if (!sink) return;
  for (const l of lines.splice(0)) sink(l);
}
