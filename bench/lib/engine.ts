/**
 * Drives the service's own sync engine the way an operator does: the real API in this process
 * (POST /migration/sync/backfill, POST /migration/verify, polling their status) and the real worker
 * processes (`workers/worker.ts` under ts-node, WORKER_QUEUES=backfill or verify) on the scenario's
 * databases, each sampled for memory from /proc (VmHWM). Nothing here knows the engine's internals;
 * if its endpoints are missing (the engine is not built yet) the caller is told why and skips.
 *
 * Redis: the bench's queues live in the Redis database of REDIS_URL (tests use databases 1..15 of
 * their own); the engine's queues there are emptied before and after each run, since job ids restart
 * with every fresh PostgreSQL database (run 1, range 1, ...).
 */
import { ChildProcess, spawn } from 'node:child_process';
import { randomInt } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Queue } from 'bullmq';
import { BENCH_TOKEN, BenchApi, freePort, startApi } from './api';
import { JsonClient } from './http';
import { parseMetrics, Sample } from './prom';
import { buildWorker } from './build';
import { withTimeout } from '../../src/common/timeout';
import { queuePrefix, QueueName } from '../../src/queues/queue-names';
import { redisForQueues } from '../../src/stores/redis';
import { readRedisConfig } from '../../src/stores/stores.config';
import { EnvReader } from '../../src/config/env-reader';
import { onCleanup } from './cleanup';
import { progress, round, sleep } from './log';
import { MemSampler, sampleMemory } from './proc-mem';
import { ROOT, servicesEnv } from './services';

const WORKER_APP_TOKEN = 'bench-worker-token-00000000001';

/** Why the engine cannot be measured, or null when its parts are there. */
export function engineMissing(kind: 'backfill' | 'verify'): string | null {
  const need =
    kind === 'backfill'
      ? ['src/sync/backfill/backfill.service.ts', 'src/sync/backfill/backfill.processor.ts', 'src/sync/sync.controller.ts']
      : ['src/verify'];
  const missing = need.filter((p) => !fs.existsSync(path.join(ROOT, p)));
  if (missing.length > 0) return `the ${kind} engine is not built yet (missing ${missing.join(', ')})`;
  if (kind === 'verify') {
    const files = fs.readdirSync(path.join(ROOT, 'src/verify'));
    if (!files.some((f) => /processor\.ts$/.test(f)) || !files.some((f) => /controller\.ts$/.test(f))) {
      return `the verify engine is not wired yet (src/verify has no processor or controller: ${files.filter((f) => f.endsWith('.ts')).join(', ')})`;
    }
  }
  return null;
}

/** The Redis the bench's processes use: REDIS_URL of the services, or REDIS_CLUSTER_NODES when set. */
export function benchRedisConfig() {
  return readRedisConfig(new EnvReader(servicesEnv()));
}

/** A scenario's own Redis keys: a database of its own on one Redis, a key prefix of its own on a cluster. */
export function scenarioRedisEnv(): Record<string, string> {
  return process.env.REDIS_CLUSTER_NODES
    ? { REDIS_KEY_PREFIX: `lms-bench-${randomInt(1e9)}` }
    : { REDIS_URL: Object.assign(new URL(servicesEnv().REDIS_URL!), { pathname: `/${1 + randomInt(15)}` }).toString() };
}

export async function emptyQueues(names: QueueName[]): Promise<void> {
  const config = benchRedisConfig();
  const connection = redisForQueues(config, {}, 'bench');
  try {
    for (const name of names) {
      const q = new Queue(name, { connection, prefix: queuePrefix(config.keyPrefix, name) });
      await q.obliterate({ force: true }).catch(() => undefined);
      // Repeatable schedules (catch-up) survive obliterate in some versions: remove them explicitly.
      for (const r of await q.getJobSchedulers().catch(() => [])) await q.removeJobScheduler(r.key).catch(() => undefined);
      await q.close();
    }
  } finally {
    connection.disconnect();
  }
}

// ------------------------------------------------------------------------------------ workers

export interface WorkerProc {
  child: ChildProcess;
  mem: MemSampler;
  /** RSS once booted, before any job: what the process costs idle (Nest, drivers, ts-node). */
  idleRssMb: number;
  output(): string;
  stop(): Promise<void>;
}

export function workerEnv(databaseUrl: string, legacyUrl: string, queues: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = servicesEnv();
  return {
    ...process.env,
    DATABASE_URL: databaseUrl,
    LEGACY_MONGO_URL: legacyUrl,
    REDIS_URL: env.REDIS_URL,
    APP_API_TOKENS: `bench-worker:${WORKER_APP_TOKEN}`,
    LOG_LEVEL: process.env.BENCH_WORKER_LOG_LEVEL ?? 'info',
    MIGRATIONS_RUN_ON_START: 'false',
    TRAFFIC_PROVIDER: 'none',
    WORKER_QUEUES: queues,
    ...extra,
  };
}

/** How workers run: `js` (default) as `npm run worker` does, plain JavaScript; `ts-node` as the tests start them. */
export function workerRuntime(): 'js' | 'ts-node' {
  return process.env.BENCH_WORKER_RUNTIME === 'ts-node' ? 'ts-node' : 'js';
}

/** The node options `npm run worker` starts the worker with (package.json), e.g. its heap ceiling. */
export function npmWorkerNodeArgs(): string[] {
  const script: string = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).scripts.worker;
  const words = script.split(/\s+/);
  return words.slice(words.indexOf('node') + 1).filter((w) => w.startsWith('--'));
}

/**
 * The worker processes' node options: those of `npm run worker`, plus any for profiling
 * (BENCH_WORKER_NODE_ARGS, space-separated, e.g. `--prof`: V8's tick log, written as it goes, so it
 * survives the SIGTERM that stops a worker; `node --prof-process` reads it).
 */
function workerNodeArgs(): string[] {
  return [...npmWorkerNodeArgs(), ...(process.env.BENCH_WORKER_NODE_ARGS ?? '').split(/\s+/).filter(Boolean)];
}

/** A child process of the bench: its output kept (the last part), stopped by SIGTERM (SIGKILL after 15 s) at cleanup. */
interface BenchChild {
  child: ChildProcess;
  /** What it printed (stdout and stderr), the last `keepChars` characters or more. */
  output(): string;
  exited: Promise<void>;
  alive(): boolean;
  stop(): Promise<void>;
}

function startChild(
  label: string,
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  o: { keepChars: number; onOutput?: (chunk: Buffer, all: string) => void; beforeStop?: () => void },
): BenchChild {
  const child = spawn(cmd, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const onData = (chunk: Buffer) => {
    out += chunk.toString();
    if (out.length > 2 * o.keepChars) out = out.slice(-o.keepChars);
    o.onOutput?.(chunk, out);
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const exited = new Promise<void>((r) => child.on('exit', () => r()));
  const alive = () => child.exitCode === null && child.signalCode === null;
  const stop = onCleanup(`stop ${label} (pid ${child.pid})`, async () => {
    o.beforeStop?.();
    if (!alive()) return;
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(t);
  });
  return { child, output: () => out, exited, alive, stop };
}

/** A worker process, ready when it serves its queues. */
export async function spawnWorker(name: string, env: NodeJS.ProcessEnv, bootTimeoutMs = 90_000): Promise<WorkerProc> {
  const [cmd, args] =
    workerRuntime() === 'js'
      ? [process.execPath, [...workerNodeArgs(), buildWorker()]]
      : [path.join(ROOT, 'node_modules/.bin/ts-node'), ['--transpile-only', '-P', 'tsconfig.json', 'workers/worker.ts']];
  let ready: () => void;
  const readyP = new Promise<void>((r) => (ready = r));
  const { child, output, exited, stop } = startChild(`worker ${name}`, cmd, args, env, {
    keepChars: 200_000,
    onOutput: (_chunk, all) => {
      if (all.includes('"serving queues"')) ready();
    },
  });
  // Ready, or dead before it got there.
  const booted = new Promise<void>((resolve, reject) => {
    void readyP.then(resolve);
    void exited.then(() =>
      reject(new Error(`worker ${name} exited during boot (code ${child.exitCode}, signal ${child.signalCode}): ${output().slice(-1500)}`)),
    );
  });
  try {
    await withTimeout(
      booted,
      bootTimeoutMs,
      () => `worker ${name} did not serve its queues within ${bootTimeoutMs} ms: ${output().slice(-1500)}`,
    );
  } catch (err) {
    await stop();
    throw err;
  }
  const mem = sampleMemory(child.pid!, 250);
  const idleRssMb = mem.samples()[0] ?? NaN;
  return {
    child,
    mem,
    idleRssMb,
    output,
    stop: async () => {
      mem.stop();
      await stop();
    },
  };
}

// ------------------------------------------------------------------------------------ API

/** The API in a process of its own (`npm start`'s dist/src/main.js, transpiled as the workers are). */
export interface ApiProc {
  pid: number;
  url: string;
  client: JsonClient;
  metrics(): Promise<Sample[]>;
  stop(): Promise<void>;
}

/**
 * The API as production runs it, in its own process on the given databases (the bench's token, no rate
 * limit, migrations left to the caller): what it measures is then not slowed by this process's load
 * generator, which reads and parses every answer on its own event loop. Ready when GET /health/ready is 200.
 */
export async function spawnApi(
  name: string,
  dbs: { databaseUrl: string; legacyUrl: string },
  o: { concurrency: number; env?: Record<string, string>; bootTimeoutMs?: number },
): Promise<ApiProc> {
  const [port, metricsPort] = [await freePort(), await freePort()];
  const env: NodeJS.ProcessEnv = {
    ...workerEnv(dbs.databaseUrl, dbs.legacyUrl, '', { APP_API_TOKENS: `bench:${BENCH_TOKEN}`, LOG_LEVEL: 'error' }),
    ...servicesEnv(),
    DATABASE_URL: dbs.databaseUrl,
    LEGACY_MONGO_URL: dbs.legacyUrl,
    PORT: String(port),
    METRICS_PORT: String(metricsPort),
    RATE_LIMIT_APP_RPS: '0',
    ...(o.env ?? {}),
  };
  delete env.WORKER_QUEUES;
  const main = path.join(path.dirname(path.dirname(buildWorker())), 'src', 'main.js');
  // BENCH_API_NODE_ARGS: node options for the API process alone (space-separated, e.g. `--trace-gc`).
  const nodeArgs = (process.env.BENCH_API_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
  // BENCH_API_OUTPUT=FILE keeps everything the API process prints (e.g. what --trace-gc says).
  const keep = process.env.BENCH_API_OUTPUT ? fs.createWriteStream(process.env.BENCH_API_OUTPUT, { flags: 'a' }) : null;
  const url = `http://127.0.0.1:${port}`;
  const client = new JsonClient(url, BENCH_TOKEN, o.concurrency);
  const { output, exited, alive, child, stop } = startChild(`API ${name}`, process.execPath, [...nodeArgs, main], env, {
    keepChars: 100_000,
    onOutput: (chunk) => keep?.write(chunk),
    beforeStop: () => client.close(),
  });
  void exited.then(() => keep?.end());
  const deadline = Date.now() + (o.bootTimeoutMs ?? 90_000);
  for (;;) {
    if (!alive()) {
      await stop();
      throw new Error(`API ${name} exited during boot (code ${child.exitCode}, signal ${child.signalCode}): ${output().slice(-1500)}`);
    }
    const ready = await fetch(`${url}/health/ready`, { signal: AbortSignal.timeout(2000) }).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ready) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`API ${name} was not ready within ${o.bootTimeoutMs ?? 90_000} ms: ${output().slice(-1500)}`);
    }
    await sleep(200);
  }
  return {
    pid: child.pid!,
    url,
    client,
    metrics: async () => {
      const res = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
      if (res.status !== 200) throw new Error(`GET /metrics -> ${res.status}`);
      return parseMetrics(await res.text());
    },
    stop,
  };
}

/** The API in this process on the given databases, with an operator token for the bench's client. */
export function startOperatorApi(databaseUrl: string, legacyUrl: string, env: Record<string, string> = {}): Promise<BenchApi> {
  return startApi(
    { pgName: '', databaseUrl, legacyDbName: '', legacyUrl, drop: async () => undefined },
    {
      concurrency: 4,
      env: {
        APP_API_TOKENS: `bench-app:${WORKER_APP_TOKEN}`,
        OPERATOR_API_TOKENS: `bench:${BENCH_TOKEN}`,
        ...env,
      },
    },
  );
}

export interface PollResult<T> {
  done: boolean;
  last: T;
  elapsedS: number;
}

/** Polls `read` until `isDone` or the deadline; `onTick` sees every reading (progress lines). */
export async function pollUntil<T>(
  read: () => Promise<T>,
  isDone: (v: T) => boolean,
  o: { timeoutS: number; everyMs: number; onTick?: (v: T, s: number) => void },
): Promise<PollResult<T>> {
  const t0 = performance.now();
  for (;;) {
    const v = await read();
    const s = (performance.now() - t0) / 1000;
    o.onTick?.(v, s);
    if (isDone(v)) return { done: true, last: v, elapsedS: s };
    if (s >= o.timeoutS) return { done: false, last: v, elapsedS: s };
    await sleep(o.everyMs);
  }
}

/** A throttled progress printer: at most one line per `everyS` seconds. */
export function ticker(scope: string, everyS = 15): (msg: string, s: number) => void {
  let last = -Infinity;
  return (msg, s) => {
    if (s - last < everyS) return;
    last = s;
    progress(scope, `${round(s, 0)} s: ${msg}`);
  };
}
