/**
 * `npm run demo`, the main job: a whole migration on local services with sample data.
 *   1. fresh demo databases (PostgreSQL `lms_demo`, legacy `legacy_demo`, Redis db 9), a hosted zone
 *      with the two weighted records in the Route 53 emulator, and a legacy collection of sample
 *      conversations in every variation the legacy application left behind;
 *   2. the API (this process) and two worker processes (logs in .local/log/demo-worker-*.log);
 *   3. application traffic (creates, appends, reads) running the whole time;
 *   4. start -> backfill -> verification -> canary -> rollout 10..100 -> deprecation -> cleanup
 *      (archive checked against the store) -> complete, with the short gate profile, each advance
 *      only when its gates pass;
 *   5. at the end: the weights read back from Route 53 after every step, the last verification, the
 *      archive manifest, a check that every acknowledged write is in the source of truth, and the shadow
 *      figures from the first comparison on: the mismatch rate (in the gates' window, and over the whole
 *      run) must stay within the gate's threshold, the lag share beside it says how much was still copying.
 * Exits non-zero if any of it fails.
 */
import 'reflect-metadata';
import { ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import * as path from 'node:path';
import { ListResourceRecordSetsCommand, Route53Client } from '@aws-sdk/client-route-53';
import fc from 'fast-check';
import { BSON, MongoClient, ObjectId } from 'mongodb';
import { Client } from 'pg';
import { createApiApp } from '../src/bootstrap';
import { loadConfig } from '../src/app-config';
import { environmentWithEnvFile } from '../src/config/env-file';
import { hasNestedArray } from '../src/model/testing/ferretdb-limits';
import { arbWildLegacyCase } from '../src/model/testing/legacy-arbitraries';
import { createDataSource } from '../src/stores/postgres/data-source';
import type { MoveResult, ShadowStatus, Status, SyncStatus, VerifyReport } from '../src/dashboard/web/types';
import { refusal } from './lib/operator-api';
import { createDemoRoute53 } from './lib/route53-setup';

const ROOT = path.resolve(__dirname, '..');
const SAMPLE_SIZE = Number(process.env.DEMO_CONVERSATIONS ?? 2000);
const MAX_SAMPLE_BYTES = 16 * 1024;
const TOKEN = 'demo-operator-token-0001';
const APP_TOKEN = 'demo-app-token-00001';
const RECORD_NAME = 'api.demo.example.com';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const t0 = Date.now();

function step(message: string): void {
  console.log(`\n== [${((Date.now() - t0) / 1000).toFixed(1)}s] ${message}`);
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

async function freshPostgres(adminUrl: string, name: string): Promise<string> {
  const admin = new Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = withDatabase(adminUrl, name);
  const ds = createDataSource({ url, poolSize: 2 });
  await ds.initialize();
  const applied = await ds.runMigrations({ transaction: 'each' });
  await ds.destroy();
  console.log(`PostgreSQL database ${name}: ${applied.length} migrations applied`);
  return url;
}

async function seedLegacy(url: string, dbName: string): Promise<string[]> {
  const mongo = await MongoClient.connect(url);
  const db = mongo.db(dbName);
  await db.dropDatabase();
  const collection = db.collection('conversations');
  // Every variation of SPEC section 1, at the sizes conversations have (the generator also makes documents of
  // hundreds of kilobytes, for the transform's tests; a collection of those is not what the demo is about).
  const fits = (d: object) => !hasNestedArray(d) && BSON.calculateObjectSize(d) <= MAX_SAMPLE_BYTES;
  const samples = fc.sample(
    arbWildLegacyCase().filter((s) => fits(s.document)),
    { numRuns: SAMPLE_SIZE, seed: 42 },
  );
  const docs = samples.map((s, i) => ({ ...s.document, _id: new ObjectId((0x5f000000 + i).toString(16).padStart(24, '0')) }));
  for (let i = 0; i < docs.length; i += 500) await collection.insertMany(docs.slice(i, i + 500));
  await mongo.close();
  return docs.map((d) => d._id.toHexString());
}

function spawnWorker(n: number, env: Record<string, string>): ChildProcess {
  mkdirSync(path.join(ROOT, '.local/log'), { recursive: true });
  const log = createWriteStream(path.join(ROOT, `.local/log/demo-worker-${n}.log`));
  const child = spawn(path.join(ROOT, 'node_modules/.bin/ts-node'), ['--transpile-only', '-P', 'tsconfig.json', 'workers/worker.ts'], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.pipe(log);
  child.stderr.pipe(log);
  return child;
}

/** A call to the operator API; `T` is the answer the caller expects for the status it checks (JSON, unchecked). */
type Op = <T = unknown>(method: string, p: string, body?: unknown) => Promise<{ status: number; body: T }>;

const pct = (r: number | null | undefined) => (r === null || r === undefined ? 'n/a' : `${(r * 100).toFixed(3)} %`);
const lagKinds = (byKind: Record<string, number> | undefined) =>
  Object.entries(byKind ?? {})
    .filter(([, n]) => n > 0)
    .map(([k, n]) => `${k} ${n}`)
    .join(', ') || 'none';

/**
 * The shadow mismatch rate as the gates see it (their analysis window), read every second from the first
 * comparison on: the highest it reached, and when the run began comparing.
 */
class ShadowWatch {
  firstComparisonAt: number | null = null;
  worst: { rate: number | null; compared: number; mismatched: number; at: number } | null = null;
  private running = true;
  private done?: Promise<void>;

  constructor(
    private readonly op: Op,
    private readonly windowMs: number,
  ) {}

  start(): void {
    this.done = (async () => {
      while (this.running) {
        await this.look().catch(() => undefined);
        await sleep(1000);
      }
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.done;
  }

  private async look(): Promise<void> {
    const w = (await this.op<ShadowStatus | null>('GET', `/migration/shadow?windowMs=${this.windowMs}`)).body?.window;
    if (!w || w.compared === 0) return;
    this.firstComparisonAt ??= Date.now() - this.windowMs;
    // (null compares as 0, as it always did)
    if (!this.worst || (w.mismatchRate ?? 0) > (this.worst.rate ?? 0))
      this.worst = { rate: w.mismatchRate, compared: w.compared, mismatched: w.mismatched, at: Date.now() };
  }
}

/** Application code calling the API: creates, appends and reads, and remembers every acknowledged write. */
class ApplicationTraffic {
  readonly acked = new Map<string, { version: number; texts: Set<string> }>();
  requests = 0;
  failures = 0;
  private running = true;
  private done?: Promise<void>;

  /** `historical`: ids of seeded legacy conversations, read now and then as old conversations are. */
  constructor(
    private readonly base: string,
    private readonly historical: string[],
  ) {}

  start(clients = 4): void {
    this.done = Promise.all(Array.from({ length: clients }, (_, n) => this.client(n))).then(() => undefined);
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.done;
  }

  private async call<T = unknown>(method: string, p: string, body?: unknown): Promise<{ status: number; body: T }> {
    this.requests++;
    const res = await fetch(`${this.base}${p}`, {
      method,
      headers: { authorization: `Bearer ${APP_TOKEN}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    return { status: res.status, body: (res.status === 204 ? null : await res.json()) as T };
  }

  private async client(n: number): Promise<void> {
    const mine: string[] = [];
    for (let i = 0; this.running; i++) {
      try {
        if (mine.length < 3 || i % 5 === 0) {
          const r = await this.call<{ id: string; version: number }>('POST', '/conversations', {
            userId: `demo-user-${n}`,
            title: `conversation ${i}`,
            messages: [{ role: 'user', content: `hello ${i}` }],
          });
          if (r.status !== 201) throw new Error(`create: ${r.status}`);
          mine.push(r.body.id);
          this.acked.set(r.body.id, { version: r.body.version, texts: new Set([`hello ${i}`]) });
        } else {
          const id = mine[i % mine.length];
          const text = `message ${n}-${i}`;
          const r = await this.call<{ version: number }>('POST', `/conversations/${id}/messages`, {
            role: i % 2 ? 'assistant' : 'user',
            content: text,
          });
          if (r.status !== 201) throw new Error(`append: ${r.status}`);
          const a = this.acked.get(id)!;
          a.version = Math.max(a.version, r.body.version);
          a.texts.add(text);
          if ((await this.call('GET', `/conversations/${id}`)).status !== 200) throw new Error('read failed');
          const old = this.historical[(n * 7919 + i * 104729) % this.historical.length];
          if (![200, 404].includes((await this.call('GET', `/conversations/${old}`)).status)) throw new Error('historical read failed');
        }
      } catch {
        this.failures++;
      }
      await sleep(25);
    }
  }
}

async function main(): Promise<void> {
  const env = environmentWithEnvFile(process.env, path.join(ROOT, '.env.local'));
  const motoUrl = env.AWS_ENDPOINT_URL ?? `http://127.0.0.1:${env.MOTO_PORT ?? 55500}`;
  const aws = {
    AWS_ACCESS_KEY_ID: env.AWS_ACCESS_KEY_ID ?? 'testing',
    AWS_SECRET_ACCESS_KEY: env.AWS_SECRET_ACCESS_KEY ?? 'testing',
    AWS_REGION: env.AWS_REGION ?? 'us-east-1',
  };
  Object.assign(process.env, aws);

  step('fresh demo databases and a hosted zone in the Route 53 emulator');
  const databaseUrl = await freshPostgres(env.DATABASE_URL!, 'lms_demo');
  const legacyUrl = withDatabase(env.LEGACY_MONGO_URL!, 'legacy_demo');
  const redisUrl = withDatabase(env.REDIS_URL!, '9');
  const zone = await createDemoRoute53({ endpoint: motoUrl, region: aws.AWS_REGION, recordName: RECORD_NAME, ttl: 1 });
  console.log(`hosted zone ${zone.hostedZoneId}: ${RECORD_NAME} weighted records legacy=100, new=0`);
  const archiveDir = path.join(ROOT, '.local/demo-archive', new Date().toISOString().replace(/[:.]/g, '-'));

  step(`legacy store: seeding ${SAMPLE_SIZE} conversations in every legacy variation`);
  const seeded = await seedLegacy(legacyUrl, 'legacy_demo');
  console.log(`seeded ${seeded.length} documents`);

  const serviceEnv: Record<string, string> = {
    ...aws,
    DATABASE_URL: databaseUrl,
    LEGACY_MONGO_URL: legacyUrl,
    REDIS_URL: redisUrl,
    APP_API_TOKENS: `demo-app:${APP_TOKEN}`,
    OPERATOR_API_TOKENS: `demo-ops:${TOKEN}`,
    LOG_LEVEL: 'warn',
    GATE_PROFILE: 'short',
    // Two cores run every server, the API, two workers and the traffic: the flow is shown here, not latency.
    GATE_MAX_P99_MS: '30000',
    GATE_ANALYSIS_WINDOW_MS: '30000',
    SHADOW_SAMPLE_RATE: '1',
    SHADOW_LAG_RECHECK_MS: '500',
    CATCHUP_INTERVAL_MS: '2000',
    LEGACY_SLOW_COMMAND_MS: process.env.LEGACY_SLOW_COMMAND_MS ?? '0',
    TRAFFIC_PROVIDER: 'route53',
    AWS_ENDPOINT_URL: motoUrl,
    ...zone.env,
    ARCHIVE_DIR: archiveDir,
    // The demo reads no metrics; a second demo or a local API may hold the default port.
    METRICS_PORT: env.METRICS_PORT ?? '0',
  };
  const config = loadConfig({ ...env, ...serviceEnv });

  step('starting the API and two worker processes');
  const app = await createApiApp(config);
  await app.listen(0, '127.0.0.1');
  const base = `http://127.0.0.1:${app.getHttpServer().address().port}`;
  const workers = [1, 2].map((n) => spawnWorker(n, serviceEnv));
  const op: Op = async <T>(method: string, p: string, body?: unknown) => {
    const res = await fetch(`${base}${p}`, {
      method,
      headers: { authorization: `Bearer ${TOKEN}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : null) as T };
  };
  console.log(`API at ${base}; workers pid ${workers.map((w) => w.pid).join(', ')}`);

  const r53 = new Route53Client({ endpoint: motoUrl, region: aws.AWS_REGION });
  const readBack = async (): Promise<{ legacy: number | 'absent'; new: number | 'absent' }> => {
    const out = await r53.send(new ListResourceRecordSetsCommand({ HostedZoneId: zone.hostedZoneId, StartRecordName: RECORD_NAME }));
    const of = (id: string) =>
      out.ResourceRecordSets?.find((r) => r.SetIdentifier === id && r.Name?.replace(/\.$/, '') === RECORD_NAME)?.Weight ?? 'absent';
    return { legacy: of('legacy'), new: of('new') };
  };
  const weightHistory: Array<{ step: string; changeId: string | null; legacy: number | 'absent'; new: number | 'absent' }> = [];

  let traffic: ApplicationTraffic | undefined;
  const shadowWatch = new ShadowWatch(op, config.migration.analysisWindowMs);
  let ok: boolean;
  try {
    step('start: not_started -> shadow (dual writes on, shadow comparison on)');
    const started = await op('POST', '/migration/start', { reason: 'demo' });
    if (started.status !== 200) throw new Error(`start: ${started.status} ${JSON.stringify(started.body)}`);
    traffic = new ApplicationTraffic(base, seeded);
    traffic.start();
    shadowWatch.start();
    weightHistory.push({ step: 'shadow', changeId: null, ...(await readBack()) });

    step('backfill: historical sync of the legacy collection');
    const bf = await op('POST', '/migration/sync/backfill', {});
    if (bf.status >= 300) throw new Error(`backfill: ${bf.status} ${JSON.stringify(bf.body)}`);
    for (;;) {
      const s = (await op<SyncStatus>('GET', '/migration/sync')).body;
      const b = s.backfill;
      if (b) {
        const c = b.counts;
        if (b.split && b.split.state !== 'complete') {
          console.log(
            `  splitting the _id space into ranges: ${b.split.state}, ${b.split.idsScanned ?? 0} of about ${b.split.estimate ?? '?'} ids scanned`,
          );
        } else {
          const w = (await op<ShadowStatus>('GET', `/migration/shadow?windowMs=${config.migration.analysisWindowMs}`)).body.window;
          console.log(
            `  ${b.status}: ${c.read}/${c.expected} read, ${c.written} written, ${c.dead} dead-lettered, ${b.rate.docsPerSecond} docs/s, ETA ${b.etaSeconds ?? '?'} s; catch-up lag ${s.catchup.lagSeconds ?? '?'} s` +
              `; shadow (last ${config.migration.analysisWindowMs / 1000} s): ${w.compared} compared, ${w.mismatched} mismatched (${pct(w.mismatchRate)}), lag ${pct(w.lagShare)} (${lagKinds(w.lagByKind)})`,
          );
        }
        if (b.status === 'completed') break;
        if (b.status === 'failed') throw new Error(`backfill failed: ${JSON.stringify(b)}`);
      }
      await sleep(1000);
    }

    const verify = async (why: string) => {
      const started = await op<{ id: number }>('POST', '/migration/verify', { reason: why, recheckDelayMs: 500 });
      if (started.status !== 202) throw new Error(`verify: ${started.status} ${JSON.stringify(started.body)}`);
      for (;;) {
        const r = (await op<VerifyReport & { counts?: unknown }>('GET', `/migration/verify/${started.body.id}?limit=10`)).body;
        if (r.status === 'completed' || r.status === 'failed') {
          console.log(`  verification #${r.id} (${why}): ${r.status}; ${JSON.stringify(r.totals ?? r.counts ?? {})}`);
          return r;
        }
        await sleep(500);
      }
    };

    const advanceTo = async (expected: string) => {
      const deadline = Date.now() + 180_000;
      let shownAt = 0;
      for (;;) {
        const dry = (await op<MoveResult>('POST', '/migration/advance', { dryRun: true })).body;
        if (dry.to !== expected) throw new Error(`the next step is ${dry.to}, expected ${expected}`);
        const failing = dry.gates.filter((g) => !g.pass);
        const summary = failing.map((g) => `${g.name}=${JSON.stringify(g.value)} (needs ${g.threshold})`).join('; ');
        if (failing.length === 0) {
          const res = await op<MoveResult>('POST', '/migration/advance', { reason: `demo: into ${expected}`, expectedStep: dry.from });
          if (res.status === 200 || res.status === 202) return res.body;
          if (refusal(res.body).code !== 'GATE_FAILED')
            throw new Error(`advance into ${expected}: ${res.status} ${JSON.stringify(res.body)}`);
        } else if (failing.some((g) => g.name.includes('verification'))) {
          await verify(`gate into ${expected}`);
        } else if (Date.now() - shownAt > 5000) {
          console.log(`  waiting: ${summary}`);
          shownAt = Date.now();
        }
        if (Date.now() > deadline) throw new Error(`gates into ${expected} still failing: ${summary}`);
        await sleep(500);
      }
    };

    for (const target of [
      'canary',
      'rollout-10',
      'rollout-25',
      'rollout-50',
      'rollout-75',
      'rollout-100',
      'deprecation',
      'cleanup',
      'complete',
    ]) {
      step(`advance into ${target}`);
      if (target === 'complete') {
        for (;;) {
          const a = (await op<Status>('GET', '/migration/status')).body.archive;
          if (a?.verified) break;
          if (a?.state === 'failed') throw new Error(`archive failed: ${JSON.stringify(a)}`);
          const p = a?.progress;
          const what = !a
            ? 'not started'
            : !p
              ? a.state === 'archiving'
                ? 'archiving: opening a cursor on the legacy collection'
                : a.state
              : p.stage === 'archive' && a.state === 'archiving'
                ? `writing the archive: ${p.documents} of about ${p.estimatedTotal} documents, ${Math.round(p.docsPerSecond)} docs/s`
                : p.stage === 'archive'
                  ? `archive written (${p.documents} documents); checking it against the store`
                  : `checking: ${p.documents} of about ${p.estimatedTotal} store documents re-read`;
          console.log(`  archive: ${what}`);
          await sleep(1000);
        }
      }
      const moved = await advanceTo(target);
      const s = (await op<Status>('GET', '/migration/status')).body;
      const change = moved.trafficChange;
      const back = await readBack();
      weightHistory.push({ step: target, changeId: change?.changeId ?? null, ...back });
      console.log(
        `  now ${s.step}: new ${s.weights.newPercent}%, source of truth ${s.sourceOfTruth}, dual writes ${s.dualWrite}` +
          (change ? `; Route 53 change ${change.changeId} ${change.state}` : '') +
          `; read back from Route 53: legacy ${back.legacy}, new ${back.new}`,
      );
      console.log(
        `  shadow (gates' window): ${s.shadow?.compared ?? '?'} compared, ${s.shadow?.mismatched ?? '?'} mismatched (${pct(s.shadow?.rate)}), lag share ${pct(s.shadow?.lagShare)}; application: ${traffic.requests} requests, ${traffic.acked.size} conversations`,
      );
    }

    step('application traffic stopped; checking every acknowledged write in the source of truth (PostgreSQL)');
    await traffic.stop();
    const pg = new Client({ connectionString: databaseUrl });
    await pg.connect();
    let lost = 0;
    for (const [id, a] of traffic.acked) {
      const r = await pg.query(
        'SELECT c.version, array_agg(m.content) AS texts FROM conversations c LEFT JOIN messages m ON m.conversation_id = c.id WHERE c.id = $1 GROUP BY c.version',
        [id],
      );
      if (r.rows.length === 0 || Number(r.rows[0].version) < a.version || [...a.texts].some((t) => !r.rows[0].texts.includes(t))) lost++;
    }
    await pg.end();
    console.log(
      `${traffic.acked.size} conversations written through the API, ${traffic.requests} requests, ${traffic.failures} failed; acknowledged writes missing: ${lost}`,
    );

    await shadowWatch.stop();
    const status = (await op<Status>('GET', '/migration/status')).body;
    step('shadow comparison from the first comparison on');
    const threshold: number = status.gateProfile.maxMismatchRate;
    const since = shadowWatch.firstComparisonAt;
    const whole =
      since === null ? null : (await op<ShadowStatus>('GET', `/migration/shadow?windowMs=${Date.now() - since + 1000}`)).body.window;
    const worst = shadowWatch.worst;
    if (whole) {
      console.log(
        `whole run: ${whole.compared} compared, ${whole.mismatched} mismatched (${pct(whole.mismatchRate)}), ${whole.lag} lag (${pct(whole.lagShare)}: ${lagKinds(whole.lagByKind)}), ${whole.errors} errors`,
      );
      console.log(
        `highest in the gates' ${config.migration.analysisWindowMs / 1000} s window: ${worst ? `${pct(worst.rate)} (${worst.mismatched} of ${worst.compared}, at ${((worst.at - t0) / 1000).toFixed(0)} s)` : 'n/a'}; the gate's threshold ${pct(threshold)}`,
      );
    } else console.log('nothing was compared');
    const shadowOk = whole !== null && whole.compared > 0 && (whole.mismatchRate ?? 0) <= threshold && (worst?.rate ?? 0) <= threshold;
    step('Route 53 weight history (read back through the AWS SDK after each step)');
    console.table(weightHistory);
    step('last verification');
    console.log(JSON.stringify(status.lastVerification, null, 2));
    step('archive manifest');
    console.log(JSON.stringify(status.archive?.manifest ?? status.archive, null, 2));
    ok =
      status.phase === 'complete' &&
      lost === 0 &&
      traffic.failures === 0 &&
      shadowOk &&
      !!status.lastVerification &&
      status.lastVerification.missing + status.lastVerification.extra + status.lastVerification.different === 0;
    console.log(
      `\n${ok ? 'Demo finished: the migration is complete.' : 'Demo FAILED.'} \`npm run services:down\` stops the local services.`,
    );
  } finally {
    await shadowWatch.stop();
    await traffic?.stop();
    for (const w of workers) w.kill('SIGTERM');
    await Promise.all(workers.map((w) => new Promise((r) => (w.exitCode !== null ? r(null) : w.once('exit', r)))));
    await app.close();
    r53.destroy();
  }
  if (!ok) process.exit(1);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
