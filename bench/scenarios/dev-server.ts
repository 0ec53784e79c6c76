/**
 * dev-server: what the local MongoDB-compatible server (FerretDB v1 on SQLite, tools/ferretdb) costs the
 * service's `_id` reads and version-guarded writes, at growing collection sizes. Not a target of SPEC
 * §6: it says how far the other scenarios' figures are bounded by the dev server (README, "The dev
 * server is not MongoDB").
 *
 * Data: its own legacy database with a collection grown to each size of BENCH_DEVSERVER_SIZES in turn:
 * small conversation-like documents (~450 B of BSON) in `_id` order, ObjectIds spread over time like the legacy
 * application's, and one document in 10,000 with a string `_id` (the legacy store has a few), which a
 * ranged read must skip. Dropped at the end.
 *
 * Figures, per size (`docs`):
 *   first_doc       ms until the first document of find({_id: {$gt: <id at 10 %>}}).sort({_id: 1}), the
 *                   driver's default first batch (the reads of openRangeScan and scanById)
 *   first_doc_all   the same for find({}).sort({_id: 1}) (the verification scan, the archive, the raw
 *                   scans of the backfill and verify scenarios)
 *   range_scan      documents/s reading that cursor (BENCH_DEVSERVER_BATCH per batch) to the end or for
 *                   BENCH_DEVSERVER_SCAN_MAX documents, and the dev server's resident memory before and
 *                   at most during the read (skipped when first_doc did not complete: it could not either)
 *   id_scan         documents/s of find({}, {projection: {_id: 1}}) (scanIdSpace), as far as range_scan
 *   point_find      findOne({_id}) latency, one at a time, random ids (BENCH_DEVSERVER_POINT_FINDS or
 *                   10 s, whichever ends first)
 *   list_by_user    latency of the service's per-user listing (MongoLegacyStore.listByUser, 20 newest; its
 *                   owner indexes built first, index_build_s), random users, one at a time, 200 or 10 s
 *   catch_up_read   latency of the catch-up's reads (scanByUpdated, scanChangedOrInserted) from a watermark a
 *                   minute ago, one at a time, 50 or 10 s
 *   cas             replaceOne({_id, v}) compare-and-sets/s from 6 connections on 4 documents of the
 *                   collection for BENCH_DEVSERVER_CAS_S; same_version counts successes on a version
 *                   another connection had already taken (MongoDB: 0)
 * A read that does not finish within BENCH_DEVSERVER_TIMEOUT_S is reported with `completed: false`.
 * The server measured is the one LEGACY_MONGO_URL points at (.env.local by default); its memory is read
 * from /proc of the process listening on that port.
 *
 * Knobs (defaults): BENCH_DEVSERVER_SIZES (100000,1000000; e.g. 10000,50000 to try it quickly),
 * BENCH_DEVSERVER_BATCH (5000), BENCH_DEVSERVER_SCAN_MAX (200000), BENCH_DEVSERVER_TIMEOUT_S (300),
 * BENCH_DEVSERVER_POINT_FINDS (2000), BENCH_DEVSERVER_CAS_S (5).
 */
import * as fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import { Collection, Document, Filter, MongoClient, MongoServerError, ObjectId } from 'mongodb';
import { withTimeout } from '../../src/common/timeout';
import { onCleanup } from '../lib/cleanup';
import { envInt, progress, round } from '../lib/log';
import { memStatus, sampleMemory } from '../lib/proc-mem';
import { servicesEnv, withDatabase } from '../lib/services';
import { summarize } from '../lib/stats';
import type { BenchLine } from '../lib/types';
import { MongoLegacyStore } from '../../src/stores/mongo/mongo-legacy.store';

const BENCH = 'dev-server';
const COLLECTION = 'conversations';
const SEED_BATCH = 5000;
const STRING_ID_EVERY = 10_000;
/** 2024-01-01, and one second per 1,000 documents: ObjectIds in creation order, as the legacy app made them. */
const BASE_SECONDS = 1_704_067_200;
const CAS_CONNECTIONS = 6;
const CAS_DOCS = 4;
/** Owners of the documents, round robin: 100 conversations each at 100k documents, 1,000 at 1M. */
const USERS = 1000;

function sizes(): number[] {
  const raw = process.env.BENCH_DEVSERVER_SIZES ?? '100000,1000000';
  const out = raw.split(',').map((s) => Number(s.trim()));
  if (out.some((n) => !Number.isInteger(n) || n < 100)) throw new Error(`BENCH_DEVSERVER_SIZES=${raw}: integers >= 100, comma-separated`);
  return [...out].sort((a, b) => a - b);
}

function idAt(i: number): ObjectId | string {
  if (i % STRING_ID_EVERY === STRING_ID_EVERY - 1) return `legacy-${i}`;
  const time = (BASE_SECONDS + Math.floor(i / 1000)).toString(16).padStart(8, '0');
  return ObjectId.createFromHexString(time + i.toString(16).padStart(16, '0'));
}

/** The ObjectId of document i, or of the one before it when i has a string `_id`. */
const objectIdAt = (i: number) => (idAt(i) instanceof ObjectId ? (idAt(i) as ObjectId) : (idAt(i - 1) as ObjectId));

function documentAt(i: number): Document {
  const created = new Date((BASE_SECONDS + Math.floor(i / 1000)) * 1000);
  const _id = idAt(i);
  return {
    _id,
    // The few string `_id`s belong to no listed user: the service cannot read them (they are for the scans).
    user_id: _id instanceof ObjectId ? `user-${i % USERS}` : 'user-with-string-ids',
    title: `conversation ${i}`,
    messages: [
      { role: 'user', text: `hello ${i} `.padEnd(120, '.'), ts: created },
      { role: 'assistant', text: 'ok '.padEnd(160, '.'), ts: created },
    ],
    created,
    updated: created,
    v: 1,
  };
}

async function seedTo(coll: Collection<Document>, from: number, to: number): Promise<number> {
  const t0 = performance.now();
  for (let i = from; i < to; i += SEED_BATCH) {
    const batch = [];
    for (let j = i; j < Math.min(to, i + SEED_BATCH); j++) batch.push(documentAt(j));
    await coll.insertMany(batch, { ordered: true });
    if ((i / SEED_BATCH) % 40 === 0) progress(BENCH, `seeded ${i + batch.length} / ${to}`);
  }
  return (to - from) / ((performance.now() - t0) / 1000);
}

/** The pid of the process listening on 127.0.0.1:port (from /proc/net/tcp and the processes' fds), if readable. */
function listenerPid(port: number): number | null {
  try {
    const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
    const inodes = new Set<string>();
    for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
      if (!fs.existsSync(file)) continue;
      for (const line of fs.readFileSync(file, 'utf8').split('\n').slice(1)) {
        const f = line.trim().split(/\s+/);
        if (f.length > 9 && f[1].endsWith(`:${hexPort}`) && f[3] === '0A') inodes.add(f[9]);
      }
    }
    for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
      let fds: string[];
      try {
        fds = fs.readdirSync(`/proc/${pid}/fd`);
      } catch {
        continue;
      }
      for (const fd of fds) {
        try {
          const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
          if (m && inodes.has(m[1])) return Number(pid);
        } catch {
          /* gone meanwhile */
        }
      }
    }
  } catch {
    /* no /proc: no memory figures */
  }
  return null;
}

class Timeout extends Error {}

/** Runs fn; if it has not finished after `seconds`, closes the client (which ends the server's work) and throws Timeout. */
async function bounded<T>(seconds: number, client: MongoClient, fn: () => Promise<T>): Promise<T> {
  let timedOut = false;
  try {
    return await withTimeout(fn(), seconds * 1000, () => {
      timedOut = true;
      void client.close(true).catch(() => undefined);
      return `no answer within ${seconds} s`;
    });
  } catch (err) {
    if (timedOut) throw new Timeout();
    throw err;
  }
}

interface Ctx {
  url: string;
  dbName: string;
  docs: number;
  timeoutS: number;
  serverPid: number | null;
  /** Most documents a scan reads. */
  scanMax: number;
  /** Set by firstDoc: false when the range's first document did not come within the timeout. */
  firstDocCompleted?: boolean;
}

/** A fresh client per measurement: a timed-out read closes its own, and leaves the others alone. */
async function withClient<T>(ctx: Ctx, fn: (coll: Collection<Document>, client: MongoClient) => Promise<T>, options = {}): Promise<T> {
  const client = await MongoClient.connect(ctx.url, { serverSelectionTimeoutMS: 5000, ...options });
  try {
    return await fn(client.db(ctx.dbName).collection(COLLECTION), client);
  } finally {
    await client.close().catch(() => undefined);
  }
}

/** Index of the range's start (10 % into the collection, on an ObjectId) and how many ObjectIds follow it. */
function rangeStart(docs: number): { from: ObjectId; expected: number } {
  let start = Math.floor(docs / 10);
  if (!(idAt(start) instanceof ObjectId)) start--;
  let expected = 0;
  for (let i = start + 1; i < docs; i++) if (idAt(i) instanceof ObjectId) expected++;
  return { from: idAt(start) as ObjectId, expected };
}

const RANGE_QUERY = 'find({_id: {$gt: <id at 10 %>}}).sort({_id: 1})';

async function firstDoc(ctx: Ctx): Promise<BenchLine> {
  const { from } = rangeStart(ctx.docs);
  const line = await timeToFirst(
    ctx,
    'first_doc',
    RANGE_QUERY,
    { _id: { $gt: from } },
    (doc) => doc._id instanceof ObjectId && Buffer.compare(doc._id.id, from.id) > 0,
  );
  ctx.firstDocCompleted = line.completed === true;
  return line;
}

async function firstDocAll(ctx: Ctx): Promise<BenchLine> {
  // MongoDB puts strings before ObjectIds: the first is the lowest string `_id`, if there is one.
  const strings: string[] = [];
  for (let i = STRING_ID_EVERY - 1; i < ctx.docs; i += STRING_ID_EVERY) strings.push(idAt(i) as string);
  const lowest = strings.length > 0 ? strings.sort()[0] : (idAt(0) as ObjectId);
  return timeToFirst(ctx, 'first_doc_all', 'find({}).sort({_id: 1})', {}, (doc) =>
    typeof lowest === 'string' ? doc._id === lowest : lowest.equals(doc._id),
  );
}

async function timeToFirst(
  ctx: Ctx,
  figure: string,
  query: string,
  filter: Document,
  isFirst: (doc: Document) => boolean,
): Promise<BenchLine> {
  let ms: number | null = null;
  const t0 = performance.now();
  try {
    await withClient(ctx, (coll, client) =>
      bounded(ctx.timeoutS, client, async () => {
        const cursor = coll.find(filter).sort({ _id: 1 }); // the driver's default first batch (101)
        const doc = await cursor.next();
        ms = performance.now() - t0;
        if (!doc || !isFirst(doc)) throw new Error(`wrong first document: ${JSON.stringify(doc?._id)}`);
        await cursor.close();
      }),
    );
  } catch (err) {
    if (!(err instanceof Timeout)) throw err;
  }
  return {
    bench: BENCH,
    figure,
    docs: ctx.docs,
    query,
    ms: ms === null ? null : round(ms, 1),
    completed: ms !== null,
    timeout_s: ctx.timeoutS,
  };
}

async function rangeScan(ctx: Ctx): Promise<BenchLine> {
  const { from, expected: inRange } = rangeStart(ctx.docs);
  const expected = Math.min(inRange, ctx.scanMax);
  const batch = envInt('BENCH_DEVSERVER_BATCH', 5000);
  if (ctx.firstDocCompleted === false) {
    return {
      bench: BENCH,
      figure: 'range_scan',
      docs: ctx.docs,
      query: RANGE_QUERY,
      completed: false,
      skipped: `no first document within ${ctx.timeoutS} s`,
    };
  }
  const rssBefore = ctx.serverPid ? (memStatus(ctx.serverPid)?.rssMb ?? NaN) : NaN;
  const mem = ctx.serverPid ? sampleMemory(ctx.serverPid, 250) : null;
  let read = 0;
  let firstBatchMs: number | null = null;
  const t0 = performance.now();
  try {
    await withClient(ctx, (coll, client) =>
      bounded(ctx.timeoutS, client, async () => {
        const cursor = coll
          .find({ _id: { $gt: from } })
          .sort({ _id: 1 })
          .batchSize(batch);
        let last = from;
        while (read < expected && (await cursor.hasNext())) {
          firstBatchMs ??= performance.now() - t0;
          for (const doc of cursor.readBufferedDocuments(expected - read)) {
            const id = doc._id;
            if (Buffer.compare(last.id, id.id) >= 0) throw new Error(`range scan out of order at ${id.toHexString()}`);
            last = id;
            read++;
          }
        }
        await cursor.close();
      }),
    );
  } catch (err) {
    if (!(err instanceof Timeout)) throw err;
  } finally {
    mem?.stop();
  }
  const elapsedS = (performance.now() - t0) / 1000;
  const completed = read === expected;
  if (read > expected || (!completed && elapsedS < ctx.timeoutS))
    throw new Error(`range scan read ${read} documents, expected ${expected}`);
  return {
    bench: BENCH,
    figure: 'range_scan',
    docs: ctx.docs,
    query: RANGE_QUERY,
    batch,
    docs_read: read,
    seconds: round(elapsedS, 2),
    docs_per_s: round(read / elapsedS, 0),
    first_batch_ms: firstBatchMs === null ? null : round(firstBatchMs, 1),
    completed,
    server_rss_before_mb: mem ? round(rssBefore, 0) : null,
    server_rss_max_mb: mem ? round(Math.max(0, ...mem.samples()), 0) : null,
  };
}

async function idScan(ctx: Ctx): Promise<BenchLine> {
  const expected = Math.min(ctx.docs, ctx.scanMax);
  let read = 0;
  const t0 = performance.now();
  try {
    await withClient(ctx, (coll, client) =>
      bounded(ctx.timeoutS, client, async () => {
        const cursor = coll.find({}, { projection: { _id: 1 }, hint: { _id: 1 }, batchSize: envInt('BENCH_DEVSERVER_BATCH', 5000) });
        while (read < expected && (await cursor.hasNext())) read += cursor.readBufferedDocuments(expected - read).length;
        await cursor.close();
      }),
    );
  } catch (err) {
    if (!(err instanceof Timeout)) throw err;
  }
  const elapsedS = (performance.now() - t0) / 1000;
  return {
    bench: BENCH,
    figure: 'id_scan',
    docs: ctx.docs,
    query: 'find({}, {projection: {_id: 1}})',
    docs_read: read,
    seconds: round(elapsedS, 2),
    docs_per_s: round(read / elapsedS, 0),
    completed: read === expected,
  };
}

async function pointFind(ctx: Ctx): Promise<BenchLine> {
  const n = envInt('BENCH_DEVSERVER_POINT_FINDS', 2000);
  const latencies: number[] = [];
  await withClient(ctx, async (coll) => {
    const stopAt = performance.now() + 10_000;
    for (let k = 0; k < n && performance.now() < stopAt; k++) {
      const i = Math.floor(Math.random() * ctx.docs);
      const t0 = performance.now();
      const doc = await coll.findOne({ _id: idAt(i) } as Filter<Document>);
      latencies.push(performance.now() - t0);
      if (!doc) throw new Error(`point find: document ${i} not found`);
    }
  });
  return { bench: BENCH, figure: 'point_find', docs: ctx.docs, query: 'findOne({_id})', ...summarize(latencies) };
}

/** The per-user listing as the service makes it (MongoLegacyStore.listByUser: the owner indexes, 20 newest). */
async function listByUser(ctx: Ctx): Promise<BenchLine> {
  const latencies: number[] = [];
  let indexS = 0;
  await withClient(ctx, async (_coll, client) => {
    const store = new MongoLegacyStore(client.db(ctx.dbName), COLLECTION);
    const t0 = performance.now();
    await store.ensureIndexes();
    indexS = (performance.now() - t0) / 1000;
    const stopAt = performance.now() + 10_000;
    for (let k = 0; k < 200 && performance.now() < stopAt; k++) {
      const t1 = performance.now();
      const page = await store.listByUser(`user-${Math.floor(Math.random() * USERS)}`, 20);
      latencies.push(performance.now() - t1);
      if (page.length === 0) throw new Error('list by user: no conversation');
    }
  });
  return {
    bench: BENCH,
    figure: 'list_by_user',
    docs: ctx.docs,
    query: 'listByUser(user, 20)',
    docs_per_user: Math.round(ctx.docs / USERS),
    index_build_s: round(indexS, 1),
    ...summarize(latencies),
  };
}

/**
 * The catch-up's reads as the service makes them (MongoLegacyStore.scanByUpdated and scanChangedOrInserted, in
 * turn, batch 1,000) from a watermark a minute ago, when nothing changed since: what every scheduled pass and the
 * cutover's final pass (while writes wait) pay at least. Before tools/ferretdb/patches/0005 each read the whole
 * collection. A read that does not finish within the timeout is reported with `completed: false`.
 */
async function catchUpRead(ctx: Ctx): Promise<BenchLine> {
  const latencies: number[] = [];
  let completed = true;
  await withClient(ctx, async (_coll, client) => {
    const store = new MongoLegacyStore(client.db(ctx.dbName), COLLECTION);
    await store.ensureIndexes();
    const since = new Date(Date.now() - 60_000);
    const splitAt = objectIdAt(ctx.docs - 1).toHexString();
    const stopAt = performance.now() + 10_000;
    try {
      for (let k = 0; k < 50 && performance.now() < stopAt; k++) {
        const t1 = performance.now();
        await bounded(ctx.timeoutS, client, () =>
          k % 2 === 0 ? store.scanByUpdated(1000, { updated: since }) : store.scanChangedOrInserted(1000, since, splitAt),
        );
        latencies.push(performance.now() - t1);
      }
    } catch (err) {
      if (!(err instanceof Timeout)) throw err;
      completed = false;
    }
  });
  return {
    bench: BENCH,
    figure: 'catch_up_read',
    docs: ctx.docs,
    query: 'scanByUpdated(1000, a minute ago) and scanChangedOrInserted(1000, a minute ago, the last _id), in turn',
    completed,
    ...(latencies.length > 0 ? summarize(latencies) : {}),
  };
}

async function cas(ctx: Ctx): Promise<BenchLine> {
  const seconds = envInt('BENCH_DEVSERVER_CAS_S', 5);
  const ids = Array.from({ length: CAS_DOCS }, (_, k) => objectIdAt(Math.floor(((k + 0.5) * ctx.docs) / CAS_DOCS)));
  const clients = await Promise.all(
    Array.from({ length: CAS_CONNECTIONS }, () => MongoClient.connect(ctx.url, { maxPoolSize: 1, serverSelectionTimeoutMS: 5000 })),
  );
  let attempts = 0;
  let successes = 0;
  let sameVersion = 0;
  let errors = 0;
  let firstError = null as string | null; // assigned in the workers' closures
  const taken = new Map<string, Set<number>>();
  try {
    const start = await clients[0]
      .db(ctx.dbName)
      .collection(COLLECTION)
      .find({ _id: { $in: ids } })
      .toArray();
    if (start.length !== CAS_DOCS) throw new Error(`cas: found ${start.length} of ${CAS_DOCS} documents`);
    const t0 = performance.now();
    const deadline = t0 + seconds * 1000;
    await Promise.all(
      clients.map(async (client, w) => {
        const coll = client.db(ctx.dbName).collection(COLLECTION);
        for (let i = 0; performance.now() < deadline; i++) {
          const _id = ids[(w + i) % CAS_DOCS];
          let matched: boolean;
          let v: number;
          try {
            const current = await coll.findOne({ _id });
            v = current!.v as number;
            attempts++;
            matched = (await coll.replaceOne({ _id, v }, { ...current, v: v + 1 })).matchedCount === 1;
          } catch (err) {
            // The unpatched server scans the table for each of them and fails writers with SQLITE_BUSY.
            errors++;
            firstError ??= err instanceof Error ? err.message : String(err);
            continue;
          }
          if (!matched) continue;
          successes++;
          const set = taken.get(_id.toHexString()) ?? new Set<number>();
          taken.set(_id.toHexString(), set);
          if (set.has(v)) sameVersion++;
          else set.add(v);
        }
      }),
    );
    const elapsedS = (performance.now() - t0) / 1000;
    return {
      bench: BENCH,
      figure: 'cas',
      docs: ctx.docs,
      query: 'findOne({_id}) then replaceOne({_id, v}, ...)',
      connections: CAS_CONNECTIONS,
      documents: CAS_DOCS,
      seconds: round(elapsedS, 2),
      attempts,
      successes,
      same_version: sameVersion,
      errors,
      ...(firstError ? { first_error: firstError.slice(0, 200) } : {}),
      cas_per_s: round(successes / elapsedS, 1),
      attempts_per_s: round(attempts / elapsedS, 1),
    };
  } finally {
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
  }
}

export async function run(): Promise<BenchLine[]> {
  const env = servicesEnv();
  const dbName = `bench_devserver_${Date.now()}`;
  const url = withDatabase(env.LEGACY_MONGO_URL!, dbName);
  const port = Number(new URL(env.LEGACY_MONGO_URL!).port || 27017);
  const serverPid = listenerPid(port);
  const timeoutS = envInt('BENCH_DEVSERVER_TIMEOUT_S', 300);
  const lines: BenchLine[] = [];
  const admin = await MongoClient.connect(url, { serverSelectionTimeoutMS: 5000 });
  const drop = onCleanup(`drop the legacy database ${dbName}`, async () => {
    try {
      await admin.db(dbName).dropDatabase();
    } catch (err) {
      if (!(err instanceof MongoServerError)) throw err;
    } finally {
      await admin.close();
    }
  });
  try {
    const coll = admin.db(dbName).collection(COLLECTION);
    let have = 0;
    for (const docs of sizes()) {
      const rate = await seedTo(coll, have, docs);
      progress(BENCH, `${docs} documents (${round(rate, 0)} inserted/s)`);
      lines.push({ bench: BENCH, figure: 'seed', docs, inserted_per_s: round(rate, 0) });
      have = docs;
      const ctx: Ctx = { url, dbName, docs, timeoutS, serverPid, scanMax: envInt('BENCH_DEVSERVER_SCAN_MAX', 200_000) };
      for (const [figure, measure] of Object.entries({
        point_find: pointFind,
        list_by_user: listByUser,
        catch_up_read: catchUpRead,
        first_doc: firstDoc,
        first_doc_all: firstDocAll,
        range_scan: rangeScan,
        id_scan: idScan,
        cas,
      })) {
        let line: BenchLine;
        try {
          line = await measure(ctx);
        } catch (err) {
          // One failed figure (e.g. the unpatched server failing writers with SQLITE_BUSY) leaves the others.
          line = { bench: BENCH, figure, docs, error: err instanceof Error ? err.message : String(err) };
        }
        progress(BENCH, JSON.stringify(line));
        lines.push(line);
      }
    }
  } finally {
    await drop();
  }
  return lines;
}
