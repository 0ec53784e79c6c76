/**
 * A Jepsen-style check of SPEC section 5 against the service as a black box: three API replicas and two
 * workers (real processes, as the manifests deploy them: two of each worker kind) on a private set of stores,
 * seeded concurrent clients writing to a few shared conversations through random replicas (and to the ones they
 * create, a few of which they delete while the others still write to them) and listing their owners' conversations,
 * the legacy application
 * appending to them and starting new ones (which the clients then write to) straight in legacy while legacy is the
 * source of truth (drained before each flip to the new store), faults (a replica
 * and a worker SIGKILLed and restarted, another replica frozen (SIGSTOP) for 11 s and the other worker for 16 s,
 * past its jobs' locks where they are shortest (traffic: 10 s, then a stalled check), so the first worker may take
 * its work over while it sleeps, Redis frozen for 3 s, every Redis connection closed by the server, Redis flushed, the legacy server SIGKILLed and started 2 s later, every PostgreSQL
 * session ended ten times a second for 2 s, PostgreSQL crashed (immediate shutdown) and started a second later; a process that dies on its own fails the run), and, in the second run, an operator flipping the source of truth between rollout 100 %
 * and deprecation, at least MIN_FLIPS times each way (the load goes on up to 60 s past the run's seconds to reach
 * them, when flips met the faults). Every operation goes into a history; at the end the repair queue drains, a
 * verification with repair runs, both stores are read directly, and test/support/history/checker.ts
 * judges the history against them.
 *
 * The first run has no flips, so a failure can be told apart from the flip's. The figures are printed as
 * one JSON line and written to .local/history-checker/ (with each run's whole history).
 *
 *   HISTORY_SEED=<n> HISTORY_SECONDS=<s> npx jest --runInBand test/history-checker.test.ts
 * (HISTORY_REPLICAS=1, HISTORY_WORKERS=1, HISTORY_FAULTS=0 and HISTORY_LEGACY_APPLICATION=0 narrow a failure down; the defaults
 * are what must pass.)
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createDataSource } from '../src/stores/postgres/data-source';
import { ROOT } from './support/env';
import { MongoFaultProxy, startMongoFaultProxy } from './support/mongo-fault-proxy';
import { PrivateServices, startPrivateServices } from './support/private-services';
import { checkHistory, CheckResult } from './support/history/checker';
import { Cluster } from './support/history/cluster';
import { now } from './support/history/history';
import { advanceTo, completeBackfill } from './support/history/operator';
import { readFinalState, settle, Settlement } from './support/history/settle';
import { recordRun, WorkloadOptions } from './support/history/workload';

function envNumber(name: string, fallback: number, min: number): number {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isSafeInteger(value) || value < min) throw new Error(`${name} must be an integer of at least ${min}`);
  return value;
}

const SEED = envNumber('HISTORY_SEED', 20260611, 0);
const SECONDS = envNumber('HISTORY_SECONDS', 40, 10);
/** For attributing a failure: HISTORY_REPLICAS=1 takes cross-replica races away, HISTORY_FAULTS=0 the faults. */
const REPLICAS = envNumber('HISTORY_REPLICAS', 3, 1);
const WORKERS = envNumber('HISTORY_WORKERS', 2, 1);
const FAULTS = envNumber('HISTORY_FAULTS', 1, 0) > 0;
/** HISTORY_LEGACY_APPLICATION=0 leaves the legacy application's own writes out. */
const LEGACY_APPLICATION = envNumber('HISTORY_LEGACY_APPLICATION', 1, 0) > 0;
const CLIENTS = 10;
/** The flips each way the flips run must commit (it goes on a while past HISTORY_SECONDS to reach them, see the workload). */
const MIN_FLIPS = 4;
const CONVERSATIONS = 20;
const OUT_DIR = path.join(ROOT, '.local/history-checker');

interface RunReport {
  variant: string;
  seed: number;
  seconds: number;
  clients: number;
  conversations: number;
  replicas: number;
  workers: number;
  faultsInjected: boolean;
  figures: CheckResult['figures'];
  finalPhase: string;
  sourceOfTruth: string;
  settlement: Settlement;
  faults: Array<{ kind: string; target?: string; atS: number }>;
  /** Processes found dead at the end of the run that no fault killed (a crash: nothing restarts them during a run). */
  diedOnTheirOwn: string[];
  runMs: number;
}

const reports: Record<string, RunReport> = {};

function writeReport(variant: string, report: RunReport, history: unknown): void {
  fs.mkdirSync(OUT_DIR, { recursive: true });
  reports[variant] = report;
  fs.writeFileSync(path.join(OUT_DIR, 'last-run.json'), `${JSON.stringify(reports, null, 2)}\n`);
  fs.writeFileSync(path.join(OUT_DIR, `${variant}-history.json`), JSON.stringify(history));
}

describe('history checker: acknowledged writes under replicas, faults and source-of-truth flips', () => {
  let services: PrivateServices;
  let cluster: Cluster;
  let proxy: MongoFaultProxy;

  beforeAll(async () => {
    console.log(
      `history checker: seed ${SEED} (HISTORY_SEED), ${SECONDS} s per run (HISTORY_SECONDS), ${REPLICAS} replicas, faults ${FAULTS ? 'on' : 'off'}`,
    );
    // Durable: the faults crash PostgreSQL, and what it acknowledged before must outlive the crash.
    services = await startPrivateServices({ durable: true });
    const ds = createDataSource({ url: services.env.DATABASE_URL, poolSize: 1 });
    await ds.initialize();
    try {
      await ds.runMigrations({ transaction: 'each' });
      // Else the crash may take acknowledged commits with it, and a lost write would be the test's, not the service's.
      const [{ fsync }] = await ds.query<Array<{ fsync: string }>>('SHOW fsync');
      const [{ synchronous_commit: sync }] = await ds.query<Array<{ synchronous_commit: string }>>('SHOW synchronous_commit');
      expect({ fsync, sync }).toEqual({ fsync: 'on', sync: 'on' });
    } finally {
      await ds.destroy();
    }
    // The deployment reaches legacy through a proxy that can answer its writes with write concern errors.
    const legacyUrl = services.env.LEGACY_MONGO_URL;
    proxy = await startMongoFaultProxy({ host: '127.0.0.1', port: Number(new URL(legacyUrl).port) });
    proxy.recording = false;
    cluster = await Cluster.start(
      services.env,
      REPLICAS,
      path.join(OUT_DIR, 'build'),
      { LEGACY_MONGO_URL: proxy.urlFor(legacyUrl) },
      WORKERS,
    );
    // The historical sync first, as every migration starts (the flip into deprecation cannot be forced without it).
    await completeBackfill(cluster);
    // MIGRATION_INITIAL_PHASE=rollout puts it at rollout-10; the rest of the way through the operator API.
    await advanceTo(cluster, 'rollout-100');
  }, 240_000);

  afterAll(async () => {
    await cluster?.stop();
    await proxy?.close();
    await services?.down();
  }, 120_000);

  async function run(variant: string, flips: boolean): Promise<{ result: CheckResult; report: RunReport }> {
    const t0 = now();
    const options: WorkloadOptions = {
      variant,
      seed: SEED + (flips ? 1 : 0),
      seconds: SECONDS,
      clients: CLIENTS,
      conversations: CONVERSATIONS,
      flips,
      faults: FAULTS,
      redisUrl: services.env.REDIS_URL,
      databaseUrl: services.env.DATABASE_URL,
      legacyServer: { kill: () => services.stop('ferretdb', 'SIGKILL'), start: () => services.start('ferretdb') },
      redisServer: { freeze: (frozen) => services.freeze('redis', frozen) },
      postgresServer: { crash: () => services.crashPostgres(), start: () => services.start('postgres') },
      legacyMajority: { late: (on) => (proxy.failWriteConcern = on) },
      minFlipsEachWay: MIN_FLIPS,
      // The legacy application's own connection, straight to the server (the deployment's goes through the proxy).
      legacyApplication: LEGACY_APPLICATION ? { mongoUrl: services.env.LEGACY_MONGO_URL } : undefined,
      log: (line) => console.log(`[${variant}] ${line}`),
    };
    const { recorder } = await recordRun(cluster, options);
    // The fault task restarts what it kills before it ends, so a process down now died on its own.
    const diedOnTheirOwn = [...cluster.replicas, ...cluster.workers].filter((p) => !p.alive).map((p) => p.name);
    // Every process up again before the end, to settle and read the final state.
    await Promise.all(cluster.replicas.map((r) => r.start()));
    await Promise.all(cluster.workers.map((w) => w.start()));
    const settlement = await settle(cluster);
    const final = await readFinalState(cluster, {
      DATABASE_URL: services.env.DATABASE_URL,
      LEGACY_MONGO_URL: services.env.LEGACY_MONGO_URL,
    });
    const result = checkHistory(recorder.history, final);
    const report: RunReport = {
      variant,
      seed: options.seed,
      seconds: SECONDS,
      clients: CLIENTS,
      conversations: CONVERSATIONS,
      replicas: REPLICAS,
      workers: WORKERS,
      faultsInjected: FAULTS,
      figures: result.figures,
      finalPhase: final.phase,
      sourceOfTruth: final.sourceOfTruth,
      settlement,
      faults: recorder.history.faults.map((f) => ({ kind: f.kind, target: f.target, atS: Math.round((f.atMs - t0) / 100) / 10 })),
      diedOnTheirOwn,
      runMs: Math.round(now() - t0),
    };
    writeReport(variant, report, { ...recorder.history, examples: result.examples });
    console.log(JSON.stringify(report));
    if (result.violations.length > 0) console.log(`[${variant}] examples: ${JSON.stringify(result.examples, null, 1)}`);
    return { result, report };
  }

  /** The guarantees, all at once, so one failure shows every figure and a few examples of each violation. */
  function expectGuarantees({ result, report }: { result: CheckResult; report: RunReport }, extra: Record<string, unknown> = {}): void {
    const f = result.figures;
    expect({
      ...extra,
      lost: f.lost,
      duplicated: f.duplicated,
      phantoms: f.phantoms,
      orderViolations: f.orderViolations,
      forks: f.forks,
      realTimeViolations: f.realTimeViolations,
      staleReads: f.staleReads,
      nonMonotonicReads: f.nonMonotonicReads,
      readsMissingAcknowledged: f.readsMissingAcknowledged,
      versionCountViolations: f.versionCountViolations,
      idempotencyViolations: f.idempotencyViolations,
      positionViolations: f.positionViolations,
      afterDelete: f.afterDelete,
      resurrected: f.resurrected,
      listMissing: f.listMissing,
      storeDifferences: f.storeDifferences,
      serverErrors: f.serverErrors,
      writesRefusedForAFlip: f.flips.refusedForAFlip,
      diedOnTheirOwn: report.diedOnTheirOwn,
      verification: report.settlement.verification.status,
      examples: result.examples,
    }).toEqual({
      ...Object.fromEntries(Object.keys(extra).map((k) => [k, true])),
      lost: 0,
      duplicated: 0,
      phantoms: 0,
      orderViolations: 0,
      forks: 0,
      realTimeViolations: 0,
      staleReads: 0,
      nonMonotonicReads: 0,
      readsMissingAcknowledged: 0,
      versionCountViolations: 0,
      idempotencyViolations: 0,
      positionViolations: 0,
      afterDelete: 0,
      resurrected: 0,
      listMissing: 0,
      storeDifferences: 0,
      serverErrors: 0,
      writesRefusedForAFlip: 0,
      diedOnTheirOwn: [],
      verification: 'completed',
      examples: {},
    });
    // A run that acknowledged little proves little; nor does a legacy application that never got a write in, nor a
    // run whose deletes or listings all failed.
    expect(f.acknowledged).toBeGreaterThan(200);
    expect(f.byKind.delete?.ok ?? 0).toBeGreaterThan(3);
    expect(f.byKind.list?.ok ?? 0).toBeGreaterThan(10);
    if (LEGACY_APPLICATION) expect(f.legacyApplication.ok).toBeGreaterThan(20);
  }

  it(
    `without flips (rollout 100 %): ${CLIENTS} clients, ${REPLICAS} replica(s), ${WORKERS} worker(s), ${FAULTS ? 'a killed replica, a frozen replica, a killed worker and another frozen past its job locks, a frozen Redis, Redis connections closed, a flushed Redis, a late legacy majority, legacy killed, every PostgreSQL session ended and PostgreSQL crashed' : 'no faults'}: nothing acknowledged is lost`,
    async () => {
      expectGuarantees(await run('steady', false));
    },
    SECONDS * 1000 + 180_000,
  );

  it(
    `with the source of truth flipped back and forth (rollout 100 % <-> deprecation) under the same load and faults`,
    async () => {
      const outcome = await run('flips', true);
      const { succeeded, attempted, refused } = outcome.result.figures.flips;
      // One key that says, when it fails, how far the run got and what refused the rest.
      const flips =
        `at least ${MIN_FLIPS} flips each way: ${succeeded.advance} / ${succeeded.rollback} committed of ` +
        `${attempted.advance} / ${attempted.rollback} tried (to the new store / back), refusals ${JSON.stringify(refused)}`;
      expectGuarantees(outcome, { [flips]: succeeded.advance >= MIN_FLIPS && succeeded.rollback >= MIN_FLIPS });
    },
    SECONDS * 1000 + 240_000,
  );
});
