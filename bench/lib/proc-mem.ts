/**
 * Memory of a process from Linux /proc: VmHWM (the kernel's own peak resident set, exact however short
 * the peak) and VmRSS, sampled periodically so the curve can be reported too.
 */
import * as fs from 'node:fs';

export interface MemStatus {
  rssMb: number;
  hwmMb: number;
}

export function memStatus(pid: number): MemStatus | null {
  try {
    const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(s)?.[1] ?? NaN);
    return { rssMb: kb('VmRSS') / 1024, hwmMb: kb('VmHWM') / 1024 };
  } catch {
    return null;
  }
}

export interface MemSampler {
  /** Highest VmHWM seen (the process's peak RSS so far), MB. */
  peakMb(): number;
  /** RSS samples, MB, one per interval. */
  samples(): number[];
  stop(): void;
}

export function sampleMemory(pid: number, everyMs = 500): MemSampler {
  let peak = 0;
  const samples: number[] = [];
  const take = () => {
    const m = memStatus(pid);
    if (!m) return;
    peak = Math.max(peak, m.hwmMb);
    samples.push(m.rssMb);
  };
  take();
  const timer = setInterval(take, everyMs);
  timer.unref();
  return {
    peakMb: () => {
      take();
      return peak;
    },
    samples: () => samples,
    stop: () => {
      take();
      clearInterval(timer);
    },
  };
}

/** Highest RSS sample (MB) of a sampler, e.g. of a server whose VmHWM covers its whole life, not one window. */
export function maxSample(s: MemSampler): number {
  return Math.max(0, ...s.samples());
}
