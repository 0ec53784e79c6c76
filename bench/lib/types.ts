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
