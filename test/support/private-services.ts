/**
 * A private set of local services (own folder, own ports) for tests that stop servers on purpose,
 * so they never disturb the shared set other test files use. Started and stopped with the same
 * scripts/services.sh a user runs; a single service is stopped by its own pid.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'dotenv';
import { listenable, ROOT } from './env';

const run = promisify(execFile);

export type ServiceName = 'postgres' | 'redis' | 'ferretdb' | 'moto';

export interface PrivateServices {
  dir: string;
  env: Record<string, string>;
  /** Stops a service (SIGTERM; PostgreSQL a fast shutdown), or kills it (SIGKILL: nothing flushed, no goodbye). */
  stop(service: ServiceName, signal?: 'SIGTERM' | 'SIGKILL'): Promise<void>;
  /**
   * PostgreSQL crashed: an immediate shutdown (every backend quits at once, no checkpoint), so its next start
   * replays the write-ahead log (crash recovery). What it acknowledged survives only if the set is `durable`.
   */
  crashPostgres(): Promise<void>;
  /** Starts one stopped service again. */
  start(service: ServiceName): Promise<void>;
  /**
   * Freezes a server (SIGSTOP: its connections stay open and nothing answers) or thaws it (SIGCONT). PostgreSQL is
   * every process of it: the postmaster and each backend and helper it started.
   */
  freeze(service: ServiceName, frozen: boolean): void;
  /** Starts whatever is down (services.sh up is idempotent). */
  up(): Promise<void>;
  down(): Promise<void>;
}

/**
 * Four consecutive free ports, chosen at random so two runs of one file on a machine do not collide, and below the
 * kernel's ephemeral range (from 32768), so that no outgoing connection takes a server's port while the test has
 * stopped the server (support/env.ts's freePort has the ports from 20000 up).
 */
async function freeBasePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 12000 + Math.floor(Math.random() * 2000) * 4;
    const free = await Promise.all([0, 1, 2, 3].map((i) => listenable(base + i)));
    if (free.every(Boolean)) return base;
  }
  throw new Error('no four consecutive free ports found');
}

export interface PrivateServicesOptions {
  basePort?: number;
  /**
   * PostgreSQL with fsync and synchronous commits whatever PG_FAST says (CI sets it, for speed): a test that
   * crashes PostgreSQL and counts on what it acknowledged needs them.
   */
  durable?: boolean;
}

export async function startPrivateServices(options: PrivateServicesOptions = {}): Promise<PrivateServices> {
  const basePort = options.basePort ?? (await freeBasePort());
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lms-services-'));
  fs.chmodSync(dir, 0o755);
  const envFile = path.join(dir, 'env');
  const vars = {
    ...process.env,
    SERVICES_DIR: dir,
    SERVICES_ENV_FILE: envFile,
    PG_PORT: String(basePort),
    REDIS_PORT: String(basePort + 1),
    MONGO_PORT: String(basePort + 2),
    MOTO_PORT: String(basePort + 3),
    // The FerretDB binary is shared with the main set so it is not rebuilt per test.
    FERRETDB_BIN: path.join(ROOT, '.local/bin/ferretdb-embedded'),
    ...(options.durable ? { PG_FAST: '0' } : {}),
  };
  const script = path.join(ROOT, 'scripts/services.sh');
  const up = async () => {
    await run('bash', [script, 'up'], { env: vars, timeout: 120_000 });
  };
  const down = async () => {
    await run('bash', [script, 'down'], { env: vars, timeout: 120_000 });
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    await up();
  } catch (err) {
    // Whatever did start must not outlive the failed set-up.
    await down().catch(() => undefined);
    throw err;
  }
  const pgCtl = (...args: string[]) =>
    run('runuser', ['-u', 'postgres', '--', '/usr/lib/postgresql/15/bin/pg_ctl', '-D', path.join(dir, 'data/postgres'), ...args], {
      cwd: '/',
      timeout: 60_000,
    });
  const pidOf = (service: ServiceName) => Number(fs.readFileSync(path.join(dir, 'run', `${service}.pid`), 'utf8').trim());
  return {
    dir,
    env: parse<Record<string, string>>(fs.readFileSync(envFile)),
    up,
    start: async (service) => {
      await run('bash', [script, 'up', service], { env: vars, timeout: 120_000 });
    },
    crashPostgres: async () => {
      await pgCtl('-m', 'immediate', '-w', 'stop');
    },
    stop: async (service, signal = 'SIGTERM') => {
      if (service === 'postgres') {
        await pgCtl('-m', 'fast', '-w', 'stop');
        return;
      }
      const pid = pidOf(service);
      process.kill(pid, signal);
      const deadline = Date.now() + 20_000;
      while (Date.now() < deadline) {
        try {
          process.kill(pid, 0);
        } catch {
          return;
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`${service} (pid ${pid}) did not stop`);
    },
    freeze: (service, frozen) => {
      const signal = frozen ? 'SIGSTOP' : 'SIGCONT';
      if (service !== 'postgres') return void process.kill(pidOf(service), signal);
      const [postmaster, ...children] = postgresProcesses(path.join(dir, 'data/postgres'));
      process.kill(postmaster, signal);
      for (const pid of children) {
        try {
          process.kill(pid, signal);
        } catch (err) {
          // A backend can end between the listing and its signal (its client went away): nothing left to stop.
          if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
        }
      }
    },
    down,
  };
}

/** The postmaster of the cluster in `dataDir` (its postmaster.pid) and every process it started, postmaster first. */
function postgresProcesses(dataDir: string): number[] {
  const postmaster = Number(fs.readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  const children = fs
    .readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        // The parent pid is the second field after the command's closing parenthesis.
        const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === postmaster;
      } catch {
        return false; // gone meanwhile
      }
    })
    .map(Number);
  return [postmaster, ...children];
}
