/**
 * Helpers for the sync engine tests: settings that make leases and stalled checks fast, seeding the
 * legacy store, in-process and out-of-process workers, waits with timeouts, and the record-by-record
 * comparison of both stores in canonical form.
 */
import { ChildProcess, spawn } from 'node:child_process';
import * as path from 'node:path';
import { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { BSON, Document, ObjectId } from 'mongodb';
import type { AppConfig } from '../../src/app-config';
import { canonical, canonicalJson, diffCanonical } from '../../src/model/canonical';
import { fromLegacy } from '../../src/model/legacy-transform';
import type { LegacyDocument } from '../../src/model/legacy-document';
import { settlesWithin, withTimeout as boundedWait } from '../../src/common/timeout';
import { QueueName } from '../../src/queues/queue-names';
import type { TestApp } from './app';
import { OPERATOR_TOKEN, redisEnv, ROOT } from './env';
import { legacyCollection, waitFor } from './stores';
import { readPgConversations } from './pg-read';

/** Short leases and stalled checks, so a killed worker's range moves on within seconds. */
export const FAST_SYNC_ENV: Record<string, string> = {
  SYNC_LEASE_MS: '1500',
  SYNC_JOB_LOCK_MS: '1500',
  SYNC_STALLED_INTERVAL_MS: '500',
  SYNC_PAUSE_POLL_MS: '200',
  SYNC_MAX_STALLED: '1000',
  CATCHUP_INTERVAL_MS: '500',
  CATCHUP_OVERLAP_MS: '1000',
};

/** Legacy documents as the generators write them (`_id` as hex) into the collection, with ObjectIds. */
export async function seedLegacy(t: TestApp, docs: Array<LegacyDocument | Document>): Promise<void> {
  const withIds = docs.map((d) => (typeof d._id === 'string' && /^[0-9a-f]{24}$/.test(d._id) ? { ...d, _id: new ObjectId(d._id) } : d));
  for (let i = 0; i < withIds.length; i += 500) await legacyCollection(t).insertMany(withIds.slice(i, i + 500) as Document[]);
}

/** A worker in this process (the same modules a worker process builds). */
export async function startSyncWorker(
  config: AppConfig,
  queues = [QueueName.Backfill, QueueName.Catchup],
): Promise<INestApplicationContext> {
  const { WorkerModule } = await import('../../src/worker.module');
  const ctx = await NestFactory.createApplicationContext(WorkerModule.forRoot(config, queues), { logger: false, abortOnError: false });
  await ctx.init();
  return ctx;
}

export interface WorkerProcess {
  child: ChildProcess;
  output: () => string;
  /** Resolves when the process has said it serves its queues. */
  ready: Promise<void>;
  exited: Promise<number | null>;
}

/** `npm run worker` as a real process (ts-node), on the test's databases and Redis; `preload` modules are required first. */
export function spawnWorker(config: AppConfig, env: Record<string, string>, preload: string[] = []): WorkerProcess {
  const child = spawn(
    path.join(ROOT, 'node_modules/.bin/ts-node'),
    ['--transpile-only', '-P', 'tsconfig.json', ...preload.flatMap((p) => ['-r', p]), 'workers/worker.ts'],
    {
      cwd: ROOT,
      env: {
        ...process.env,
        DATABASE_URL: config.database.url,
        LEGACY_MONGO_URL: config.legacy.url,
        ...redisEnv(config.redis),
        APP_API_TOKENS: 'worker:worker-token-for-tests-0001',
        LOG_LEVEL: 'info',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  let readyResolve: () => void;
  const ready = new Promise<void>((resolve) => (readyResolve = resolve));
  const onData = (chunk: Buffer) => {
    out += chunk.toString();
    if (out.includes('"serving queues"')) readyResolve();
    if (out.length > 200_000) out = out.slice(-100_000);
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => out, ready, exited };
}

export async function stopWorker(w: WorkerProcess | undefined, signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 15_000): Promise<void> {
  if (!w || w.child.exitCode !== null || w.child.signalCode !== null) return;
  w.child.kill(signal);
  if (!(await settlesWithin(w.exited, timeoutMs))) {
    w.child.kill('SIGKILL');
    await w.exited;
  }
}

export function withTimeout<T>(what: string, p: Promise<T>, ms: number): Promise<T> {
  return boundedWait(p, ms, `timed out after ${ms} ms waiting for ${what}`);
}

export async function syncStatus(t: TestApp): Promise<any> {
  const res = await t.request('GET', '/migration/sync', { token: OPERATOR_TOKEN });
  expect(res.status).toBe(200);
  return res.body;
}

export async function startBackfill(t: TestApp): Promise<{ runId: number; resumed: boolean }> {
  const res = await t.request('POST', '/migration/sync/backfill', { token: OPERATOR_TOKEN });
  expect(res.status).toBe(202);
  return res.body;
}

export async function waitForRunCompleted(t: TestApp, runId: number, timeoutMs: number): Promise<void> {
  await waitFor(
    `backfill run ${runId} to complete`,
    async () => {
      const rows = await t.pg.query('SELECT status FROM sync_runs WHERE id = $1', [runId]);
      return rows.rows[0]?.status === 'completed';
    },
    timeoutMs,
    200,
  );
}

export interface RangeRow {
  range_no: number;
  kind: string;
  status: string;
  docs_expected: number;
  docs_read: number;
  docs_written: number;
  docs_skipped: number;
  docs_dead: number;
  claims: number;
  claimed_by: string | null;
}

export async function ranges(t: TestApp, runId: number): Promise<RangeRow[]> {
  const rows = await t.pg.query(
    `SELECT range_no, kind, status, docs_expected::int, docs_read::int, docs_written::int, docs_skipped::int, docs_dead::int, claims, claimed_by
       FROM sync_ranges WHERE run_id = $1 ORDER BY range_no`,
    [runId],
  );
  return rows.rows;
}

/** Every conversation in PostgreSQL, canonical JSON by id (one snapshot: see pg-read.ts). */
export async function pgCanonical(t: TestApp): Promise<Map<string, string>> {
  return new Map((await readPgConversations(t.pg)).map((c) => [c.id, canonicalJson(c)]));
}

export interface LegacySplit {
  /** Readable documents, canonical JSON by id. */
  readable: Map<string, string>;
  /** Unreadable documents by their dead-letter key, with the transform's reason. */
  unreadable: Map<string, string>;
}

export async function legacyCanonical(t: TestApp): Promise<LegacySplit> {
  const docs = await legacyCollection(t).find({}).toArray();
  const readable = new Map<string, string>();
  const unreadable = new Map<string, string>();
  for (const doc of docs) {
    try {
      const c = fromLegacy(doc);
      readable.set(c.id, canonicalJson(c));
    } catch (err) {
      const e = err as { id?: string; reason: string };
      const key =
        e.id ??
        (doc._id instanceof ObjectId
          ? doc._id.toHexString()
          : typeof doc._id === 'string'
            ? doc._id
            : BSON.EJSON.stringify(doc._id, { relaxed: false }));
      unreadable.set(key, e.reason);
    }
  }
  return { readable, unreadable };
}

/** Record by record: PostgreSQL holds exactly the readable legacy documents, each equal in canonical form. */
export async function expectStoresEqual(t: TestApp): Promise<LegacySplit> {
  const [legacy, pg] = await Promise.all([legacyCanonical(t), pgCanonical(t)]);
  const missing = [...legacy.readable.keys()].filter((id) => !pg.has(id));
  const extra = [...pg.keys()].filter((id) => !legacy.readable.has(id));
  const different = [...legacy.readable.keys()].filter((id) => pg.has(id) && pg.get(id) !== legacy.readable.get(id));
  if (different.length > 0) {
    const id = different[0];
    // Name the differing paths of the first one, not two large documents.
    expect({ id, diff: diffCanonical(JSON.parse(pg.get(id)!), JSON.parse(legacy.readable.get(id)!)) }).toEqual({ id, diff: [] });
  }
  expect({ missing: missing.slice(0, 10), extra: extra.slice(0, 10), different: different.slice(0, 10) }).toEqual({
    missing: [],
    extra: [],
    different: [],
  });
  expect(pg.size).toBe(legacy.readable.size);
  return legacy;
}

/** The open dead letters: reason by conversation id. */
export async function openDeadLetters(t: TestApp): Promise<Map<string, string>> {
  const rows = await t.pg.query<{ conversation_id: string; reason: string }>(
    'SELECT conversation_id, reason FROM dead_letters WHERE resolved_at IS NULL',
  );
  return new Map(rows.rows.map((r) => [r.conversation_id, r.reason]));
}

export const canonicalOf = (doc: Document) => canonical(fromLegacy(doc));

/**
 * `n` small legacy documents in the SPEC's variations (old and new field names, upper-case roles, ISO,
 * epoch and Date timestamps, missing optional fields), from a seeded generator: cheap enough for
 * thousands, unlike the exhaustive arbitraries.
 */
export function smallLegacyDocs(n: number, seed: number): Document[] {
  let state = seed >>> 0 || 1;
  const rnd = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
  const pick = <T>(xs: T[]) => xs[Math.floor(rnd() * xs.length)];
  const base = Date.UTC(2020, 0, 1);
  const docs: Document[] = [];
  for (let i = 0; i < n; i++) {
    const created = new Date(base + Math.floor(rnd() * 1e11));
    const doc: Document = { _id: new ObjectId() };
    if (rnd() < 0.7) doc.user_id = `user-${Math.floor(rnd() * 500)}`;
    else doc.userId = `user-${Math.floor(rnd() * 500)}`;
    if (rnd() < 0.8) doc.title = rnd() < 0.1 ? null : `Conversation ${i} ✈️ ${pick(['travel', 'code', '日本語', 'recipes'])}`;
    if (rnd() < 0.9) {
      doc.messages = Array.from({ length: Math.floor(rnd() * 6) }, (_, k) => {
        const ts = new Date(created.getTime() + k * 1000);
        const role = pick(['user', 'assistant', 'system', 'tool']);
        const m: Document = { role: rnd() < 0.2 ? role.toUpperCase() : role, ts: pick([ts, ts.toISOString(), ts.getTime()]) };
        m[rnd() < 0.8 ? 'text' : 'content'] = `message ${k} of ${i}: ${'lorem ipsum '.repeat(Math.floor(rnd() * 20))}`;
        return m;
      });
    }
    if (rnd() < 0.5) doc.meta = { source: pick(['web', 'ios', 'android']), n: i, nested: { ok: rnd() < 0.5 } };
    doc.created = rnd() < 0.3 ? created.toISOString() : created;
    if (rnd() < 0.5) doc.updated = new Date(created.getTime() + 60_000);
    if (rnd() < 0.6) doc.v = Math.floor(rnd() * 5);
    docs.push(doc);
  }
  return docs;
}
