/**
 * BENCH_LEGACY_CPUS: the legacy server on CPUs of its own for a whole run, as it would be on a machine of its
 * own in production. The dev server (FerretDB) is pinned to the listed CPUs (taskset's list format, e.g. `1`);
 * everything else the run measures (PostgreSQL's postmaster and every backend, Redis, this process and so the
 * APIs and workers it starts) to the CPUs left. Both sides of every comparison run in that one layout, so a
 * ratio still compares like with like; what changes is that the legacy server's own work (in deprecation, the
 * follow-ups it applies) no longer takes CPU from the request path. Unset (the default), everything shares
 * every CPU. The servers get every CPU back at the end of the run, or on a signal.
 */
import { execFileSync } from 'node:child_process';
import * as os from 'node:os';
import { childPids, servicePid } from './proc-cpu';

export interface CpuLayout {
  /** What the run's first line records, e.g. `legacy (the dev server) on CPU 1; API, workers, ... on CPU 0`. */
  description: string;
  /** What every line of the run carries (`layout`), short: `legacy on CPU 1 of its own`. */
  tag: string;
  restore(): void;
}

/** `0-2,5` -> [0, 1, 2, 5]; throws on anything else. */
export function parseCpuList(list: string): number[] {
  const out = new Set<number>();
  for (const part of list.split(',').map((s) => s.trim())) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) throw new Error(`BENCH_LEGACY_CPUS: "${list}" is not a CPU list (e.g. 1 or 2-3)`);
    const [from, to] = [Number(m[1]), Number(m[2] ?? m[1])];
    if (to < from) throw new Error(`BENCH_LEGACY_CPUS: "${part}" runs backwards`);
    for (let c = from; c <= to; c++) out.add(c);
  }
  return [...out].sort((a, b) => a - b);
}

function pin(pid: number, cpus: number[]): void {
  // -a: every thread the process has now; threads and processes it starts later inherit the mask.
  execFileSync('taskset', ['-a', '-p', '-c', cpus.join(','), String(pid)], { stdio: 'ignore' });
}

/** The postmaster and every process it has forked (backends, the checkpointer, autovacuum...). */
function postgresPids(postmaster: number): number[] {
  return [postmaster, ...childPids(postmaster)];
}

/** Applies BENCH_LEGACY_CPUS, or returns null when it is unset. */
export function applyCpuLayout(): CpuLayout | null {
  const raw = process.env.BENCH_LEGACY_CPUS?.trim();
  if (!raw) return null;
  const all = os.cpus().map((_, i) => i);
  const legacy = parseCpuList(raw);
  const missing = legacy.filter((c) => !all.includes(c));
  if (missing.length > 0) throw new Error(`BENCH_LEGACY_CPUS: no CPU ${missing.join(', ')} here (CPUs 0-${all.length - 1})`);
  const rest = all.filter((c) => !legacy.includes(c));
  if (rest.length === 0) throw new Error('BENCH_LEGACY_CPUS: that leaves no CPU for the rest of the run');
  const ferret = servicePid('ferretdb');
  const postmaster = servicePid('postgres');
  const redis = servicePid('redis');
  if (!ferret || !postmaster) {
    throw new Error(
      'BENCH_LEGACY_CPUS: pins the servers that scripts/services.sh started, and found no pid file for FerretDB or PostgreSQL',
    );
  }
  const others = [...postgresPids(postmaster), ...(redis ? [redis] : []), process.pid];
  const restore = () => {
    for (const pid of [ferret, ...postgresPids(postmaster), ...(redis ? [redis] : [])]) {
      try {
        pin(pid, all);
      } catch {
        /* gone meanwhile (a backend that exited) */
      }
    }
  };
  try {
    pin(ferret, legacy);
    for (const pid of others) {
      try {
        pin(pid, rest);
      } catch {
        /* a backend that exited meanwhile */
      }
    }
  } catch (err) {
    restore();
    throw err;
  }
  const cpuWord = (cs: number[]) => `CPU${cs.length > 1 ? 's' : ''} ${cs.join(', ')}`;
  return {
    description: `legacy (the dev server) on ${cpuWord(legacy)}; API, workers, PostgreSQL, Redis and the load on ${cpuWord(rest)}`,
    tag: `legacy on ${cpuWord(legacy)} of its own`,
    restore,
  };
}
