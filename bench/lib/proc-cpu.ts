/**
 * CPU time of the local database servers (Linux /proc, best effort): FerretDB's process and
 * PostgreSQL's postmaster with all its backends. Server-wide: any other client of the same servers
 * is counted too. Pids come from scripts/services.sh's pid files under SERVICES_DIR (default .local).
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ROOT } from './services';

let clockTicks: number | undefined;
function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/** [ppid, utime + stime in ticks] of a pid, or null. */
function stat(pid: number): [number, number] | null {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return [Number(f[1]), Number(f[11]) + Number(f[12])];
  } catch {
    return null;
  }
}

function pidFile(service: string): number | null {
  const dir = process.env.SERVICES_DIR ? path.resolve(process.env.SERVICES_DIR) : path.join(ROOT, '.local');
  try {
    const pid = Number(fs.readFileSync(path.join(dir, 'run', `${service}.pid`), 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

export type CpuSnapshot = Record<string, number>;

/** CPU seconds used so far by each server that can be found. */
export function serverCpu(): CpuSnapshot {
  const out: CpuSnapshot = {};
  const hz = ticksPerSecond();
  const ferret = pidFile('ferretdb');
  const f = ferret ? stat(ferret) : null;
  if (f) out.ferretdb = f[1] / hz;
  const pm = pidFile('postgres');
  const p = pm ? stat(pm) : null;
  if (pm && p) {
    let ticks = p[1];
    for (const child of childPids(pm)) ticks += stat(child)?.[1] ?? 0;
    out.postgres = ticks / hz;
  }
  return out;
}

/** The processes whose parent is `parent` (PostgreSQL's backends, checkpointer, autovacuum... for the postmaster). */
export function childPids(parent: number): number[] {
  return fs
    .readdirSync('/proc')
    .filter((e) => /^\d+$/.test(e) && stat(Number(e))?.[0] === parent)
    .map(Number);
}

/** CPU seconds per server between two snapshots (a backend that exited in between is not counted). */
export function cpuDelta(before: CpuSnapshot, after: CpuSnapshot): CpuSnapshot {
  const out: CpuSnapshot = {};
  for (const [k, v] of Object.entries(after)) if (before[k] !== undefined) out[k] = Math.max(0, v - before[k]);
  return out;
}

/** CPU seconds (user + system) a process has used so far, or null when it is gone. */
export function processCpuSeconds(pid: number): number | null {
  const s = stat(pid);
  return s ? s[1] / ticksPerSecond() : null;
}

/** The pid of a local service started by scripts/services.sh (ferretdb, postgres, redis), or null. */
export function servicePid(service: string): number | null {
  return pidFile(service);
}
