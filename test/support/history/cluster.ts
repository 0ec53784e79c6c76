/**
 * A small production-like deployment for the history checker: several API replicas and a worker
 * process, each a real OS process running the current source, all on one set of stores.
 *
 * The source is transpiled once per test file (TypeScript's transpileModule with the project's
 * tsconfig: what `ts-node --transpile-only` does file by file at every start), so a replica killed
 * mid-run is back in seconds even on a busy two-core machine, where ts-node took 15-25 s.
 * Replicas keep their port across a kill and a restart, so a client that picks a dead replica gets
 * a refused connection, as behind a load balancer whose health checks have not noticed yet.
 * Every process is stopped by its own pid.
 */
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ts from 'typescript';
import { settlesWithin } from '../../../src/common/timeout';
import { APP_TOKEN, freePort, OPERATOR_TOKEN, ROOT } from '../env';

/** Settings every process of the cluster shares (stores, tokens, the phase machine's profile). */
export function clusterEnv(stores: Record<string, string>): Record<string, string> {
  return {
    DATABASE_URL: stores.DATABASE_URL,
    LEGACY_MONGO_URL: stores.LEGACY_MONGO_URL,
    REDIS_URL: stores.REDIS_URL,
    // The private services' one Redis, even when the test run itself was pointed at a cluster.
    REDIS_CLUSTER_NODES: '',
    APP_API_TOKENS: `history:${APP_TOKEN}`,
    OPERATOR_API_TOKENS: `history-ops:${OPERATOR_TOKEN}`,
    // The production default, on purpose: each replica caches the phase for a second.
    MODE_CACHE_TTL_MS: '1000',
    MIGRATION_INITIAL_PHASE: 'rollout',
    GATE_PROFILE: 'short',
    TRAFFIC_PROVIDER: 'none',
    TRAFFIC_WAIT_MS: '20000',
    WORKER_RECOVERY_INTERVAL_MS: '2000',
    LOG_LEVEL: process.env.HISTORY_LOG_LEVEL ?? 'warn',
  };
}

const SOURCE_DIRS = ['src', 'workers', 'migrations'];
const skip = (rel: string) => rel.endsWith('.spec.ts') || rel.includes('/testing/') || rel.startsWith('src/dashboard/web/');

function tsFiles(dir: string): string[] {
  return fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((e) => {
    const rel = `${dir}/${e.name}`;
    if (e.isDirectory()) return tsFiles(rel);
    return e.name.endsWith('.ts') && !skip(rel) ? [rel] : [];
  });
}

/** Transpiles src/, workers/ and migrations/ into `outDir` (under the repository, so node_modules resolve). */
export function transpileSources(outDir: string): void {
  const { config } = ts.readConfigFile(path.join(ROOT, 'tsconfig.json'), (f) => ts.sys.readFile(f));
  const { options } = ts.parseJsonConfigFileContent(config, ts.sys, ROOT);
  const compilerOptions: ts.CompilerOptions = { ...options, sourceMap: false, inlineSourceMap: false, declaration: false, noEmit: false };
  fs.rmSync(outDir, { recursive: true, force: true });
  for (const rel of SOURCE_DIRS.flatMap(tsFiles)) {
    const out = ts.transpileModule(fs.readFileSync(path.join(ROOT, rel), 'utf8'), { compilerOptions, fileName: rel });
    const target = path.join(outDir, rel.replace(/\.ts$/, '.js'));
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, out.outputText);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One node process of the cluster: started, probed until ready, stopped by its own pid. */
export class NodeProcess {
  child?: ChildProcess;
  private out = '';
  private exited?: Promise<void>;

  constructor(
    readonly name: string,
    private readonly script: string,
    private readonly env: Record<string, string>,
    private readonly ready: (output: string) => Promise<boolean>,
    /** Where every start's output is appended (for a failing run's post-mortem). */
    private readonly logFile?: string,
  ) {}

  get alive(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  output(): string {
    return this.out;
  }

  async start(timeoutMs = 90_000): Promise<void> {
    if (this.alive) return;
    this.out = '';
    const child = spawn(process.execPath, [this.script], {
      cwd: ROOT,
      env: { ...process.env, ...this.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    const log = this.logFile ? fs.createWriteStream(this.logFile, { flags: 'a' }) : null;
    log?.write(`---- ${new Date().toISOString()} ${this.name} starting\n`);
    child.once('exit', (code, signal) => log?.end(`---- ${new Date().toISOString()} ${this.name} exited (${signal ?? code})\n`));
    const onData = (chunk: Buffer) => {
      log?.write(chunk);
      this.out += chunk.toString();
      if (this.out.length > 200_000) this.out = this.out.slice(-100_000);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null)
        throw new Error(`${this.name} exited while starting:\n${this.out.slice(-3000)}`);
      if (await this.ready(this.out)) return;
      if (Date.now() > deadline) throw new Error(`${this.name} not ready after ${timeoutMs} ms:\n${this.out.slice(-3000)}`);
      await sleep(150);
    }
  }

  /**
   * Freezes the process for `ms` (SIGSTOP, then SIGCONT), as a long GC pause, a stalled VM or a process swapped
   * out would: its sockets, sessions, locks and leases stay open while it runs no code, and its timers fire late.
   */
  async pause(ms: number): Promise<void> {
    const thaw = this.freeze();
    try {
      await sleep(ms);
    } finally {
      thaw();
    }
  }

  /** Freezes the process (SIGSTOP) until the function returned is called (SIGCONT). */
  freeze(): () => void {
    const child = this.alive ? this.child! : undefined;
    child?.kill('SIGSTOP');
    return () => {
      if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGCONT');
    };
  }

  /** Sends `signal` to this process's own pid and waits (bounded) for it to exit. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 15_000): Promise<void> {
    if (!this.alive) return;
    this.child!.kill(signal);
    // A paused process handles no signal but SIGKILL until it runs again.
    if (signal !== 'SIGKILL') this.child!.kill('SIGCONT');
    if (!(await settlesWithin(this.exited!, timeoutMs))) {
      this.child!.kill('SIGKILL');
      await this.exited;
    }
  }
}

export class ApiReplica extends NodeProcess {
  constructor(
    readonly index: number,
    readonly port: number,
    readonly metricsPort: number,
    buildDir: string,
    env: Record<string, string>,
    logDir: string,
  ) {
    super(
      `API replica ${index}`,
      path.join(buildDir, 'src/main.js'),
      { ...env, PORT: String(port), METRICS_PORT: String(metricsPort) },
      () =>
        fetch(`http://127.0.0.1:${port}/health/ready`, { signal: AbortSignal.timeout(2000) }).then(
          (r) => r.status === 200,
          () => false,
        ),
      path.join(logDir, `replica-${index}.log`),
    );
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }
}

export class Cluster {
  readonly replicas: ApiReplica[] = [];
  /** Worker processes, each serving every queue: they compete for jobs, as the deployment's replicas do. */
  readonly workers: NodeProcess[];

  private constructor(
    buildDir: string,
    env: Record<string, string>,
    readonly logDir: string,
    workers: number,
  ) {
    // WORKER_QUEUES unset: a worker serves every queue. It says so at info level once it does.
    this.workers = Array.from(
      { length: workers },
      (_, i) =>
        new NodeProcess(
          i === 0 ? 'worker' : `worker ${i}`,
          path.join(buildDir, 'workers/worker.js'),
          { ...env, LOG_LEVEL: 'info' },
          async (out) => out.includes('"serving queues"'),
          path.join(logDir, i === 0 ? 'worker.log' : `worker-${i}.log`),
        ),
    );
  }

  /** The first worker (the only one, unless the cluster was started with more). */
  get worker(): NodeProcess {
    return this.workers[0];
  }

  /** `extraEnv`: settings on top of clusterEnv for every process (a test's own secrets, limits, ...). */
  static async start(
    stores: Record<string, string>,
    replicas: number,
    buildDir: string,
    extraEnv: Record<string, string> = {},
    workers = 1,
  ): Promise<Cluster> {
    transpileSources(buildDir);
    const env = { ...clusterEnv(stores), ...extraEnv };
    const logDir = path.join(path.dirname(buildDir), 'logs');
    fs.rmSync(logDir, { recursive: true, force: true });
    fs.mkdirSync(logDir, { recursive: true });
    const cluster = new Cluster(buildDir, env, logDir, workers);
    for (let i = 0; i < replicas; i++) cluster.replicas.push(new ApiReplica(i, await freePort(), await freePort(), buildDir, env, logDir));
    try {
      // The first replica applies MIGRATION_INITIAL_PHASE alone; the others start in parallel.
      await cluster.replicas[0].start();
      await Promise.all([...cluster.replicas.slice(1).map((r) => r.start()), ...cluster.workers.map((w) => w.start())]);
    } catch (err) {
      await cluster.stop();
      throw err;
    }
    return cluster;
  }

  async stop(): Promise<void> {
    await Promise.allSettled([...this.replicas.map((r) => r.stop('SIGTERM')), ...this.workers.map((w) => w.stop('SIGTERM'))]);
  }

  /**
   * One JSON request to replica `replica` (modulo their number), given up after `timeoutMs`; the body is null when the
   * answer is not JSON.
   */
  async request(
    replica: number,
    method: string,
    p: string,
    body?: unknown,
    token = APP_TOKEN,
    timeoutMs = 20_000,
  ): Promise<{ status: number; body: any }> {
    const res = await fetch(`${this.replicas[replica % this.replicas.length].url}${p}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
    return { status: res.status, body: (await res.json().catch(() => null)) as any };
  }
}
