/**
 * A seeded, deterministic data set of chat conversations in the legacy format (SPEC section 1), seeded
 * into its own legacy database for the backfill and verify scenarios.
 *
 * Shape, like a chat product: messages per conversation heavy-tailed (log-normal, median ~8, 1..200;
 * a few conversations have none), message bodies heavy-tailed by role (user ~90 B, assistant ~450 B,
 * tool output ~300 B median; 20 B..8 KiB), small nested metadata. `_id`s are ObjectIds whose time is
 * the conversation's creation, as the legacy application made them, so `_id` order is age order and
 * the legacy variations follow the documents' age:
 *   oldest ~15 %: `userId`, upper-case roles, `content`, `ts` as ISO string or epoch ms, `created` ISO;
 *   next ~20 %:   a mix (per document) of the old and the current names;
 *   the rest:     the current format, with a sprinkle (~2 %) of old variations, as real data has.
 * Also: titles string / null / missing, `meta` missing on some, `updated` and `v` missing on
 * never-modified documents, `deleted: true` on ~2 %. No arrays of arrays (FerretDB cannot store them)
 * and every document is readable (no dead letters), so the stores can be compared exactly.
 *
 * Seeding (insertMany of large batches in `_id` order, generation overlapping the insert) is the slow part of the bench on FerretDB,
 * so one data set is seeded per `npm run bench` process and shared by the scenarios (its database
 * is dropped at the end of the run). BENCH_KEEP_DATASET=1 keeps it for the next run, which reuses it
 * when its manifest (size, seed, generator version) matches.
 *
 * Knobs: BENCH_DOCS (200000), BENCH_SEED (42), BENCH_KEEP_DATASET (0).
 */
import { performance } from 'node:perf_hooks';
import { BSON, Db, MongoClient, ObjectId } from 'mongodb';
import { onRunCleanup } from './cleanup';
import { envInt, progress, round } from './log';
import { servicesEnv, withDatabase } from './services';

/** Bump when the generator's output changes, so a kept data set of an older generator is not reused. */
const GENERATOR_VERSION = 2;
export const DATASET_COLLECTION = 'conversations';
const MANIFEST_COLLECTION = 'bench_manifest';

// ------------------------------------------------------------------------------------ randomness

/** Small deterministic PRNG (32-bit state). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** One generator per document, so document i is the same whatever else is generated. */
function docRandom(seed: number, i: number): () => number {
  let h = Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(i + 1, 0xc2b2ae35);
  h ^= h >>> 16;
  return mulberry32(h);
}

class Rand {
  private spare: number | null = null;
  constructor(readonly next: () => number) {}
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.next() * xs.length)];
  }
  normal(): number {
    if (this.spare !== null) {
      const s = this.spare;
      this.spare = null;
      return s;
    }
    const u = 1 - this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }
  /** Log-normal with the given median, clamped to [lo, hi], rounded. */
  logNormal(median: number, sigma: number, lo: number, hi: number): number {
    return Math.min(hi, Math.max(lo, Math.round(median * Math.exp(sigma * this.normal()))));
  }
}

// ------------------------------------------------------------------------------------ text

const WORDS = (
  'the a to and of in is it you that for on with can this be are have how not what i do your my if but as ' +
  'please thanks help code error function table query migration database postgres index cursor batch version ' +
  'deploy server request response latency cache token user message assistant model answer question example ' +
  'python typescript node docker kubernetes config file line value string number list object array json yaml ' +
  'because should would could maybe also then when where which there their about more some other only into ' +
  'trip hotel flight kyoto paris recipe chicken garlic weather tomorrow meeting email draft summary report'
).split(' ');
const UNICODE_WORDS = [
  'café',
  'naïve',
  'Größe',
  'déjà',
  'año',
  '日本語',
  '東京',
  'спасибо',
  'привет',
  'مرحبا',
  '你好',
  '😀',
  '🚀',
  '👍🏽',
  'θ',
  '€',
];

/**
 * A fixed corpus; message bodies are slices of it at random offsets (cheap, and the size is exact).
 * Built from its own PRNG so it does not depend on BENCH_SEED.
 */
const CORPUS: string = (() => {
  const r = new Rand(mulberry32(7));
  const parts: string[] = [];
  let len = 0;
  while (len < 256 * 1024) {
    let w = r.chance(0.03) ? r.pick(UNICODE_WORDS) : r.pick(WORDS);
    if (r.chance(0.08)) w += r.pick(['.', ',', '?', '!', ':', '\n']);
    parts.push(w);
    len += w.length + 1;
  }
  return parts.join(' ');
})();

const isHigh = (c: number) => c >= 0xd800 && c <= 0xdbff;
const isLow = (c: number) => c >= 0xdc00 && c <= 0xdfff;

/** About `n` UTF-16 units of text; never splits a surrogate pair (a lone surrogate is unstorable). */
function textOf(r: Rand, n: number): string {
  let start = r.int(0, CORPUS.length - n - 2);
  if (isLow(CORPUS.charCodeAt(start))) start++;
  let end = start + n;
  if (isHigh(CORPUS.charCodeAt(end - 1))) end--;
  return CORPUS.slice(start, end);
}

// ------------------------------------------------------------------------------------ documents

const START_MS = Date.UTC(2019, 0, 1);
const END_MS = Date.UTC(2025, 5, 1);
const SOURCES = ['web', 'ios', 'android', 'api', 'slack'] as const;
const MODELS = ['gpt-4o', 'gpt-4o-mini', 'claude-3-5-sonnet', 'llama-3-70b'] as const;
const LOCALES = ['en-US', 'en-GB', 'de-DE', 'fr-FR', 'ja-JP', 'es-ES', 'pt-BR'] as const;
const TOPICS = [
  'Trip planning',
  'Debugging a query',
  'Recipe ideas',
  'Email draft',
  'Migration plan',
  'Weekly report',
  'Learning TypeScript',
  'Kyoto 京都 itinerary',
  'Résumé review',
  '🚀 launch checklist',
];

type Era = 'old' | 'mixed' | 'current';

function isoWithOffset(ms: number, r: Rand): string {
  if (r.chance(0.7)) return new Date(ms).toISOString();
  // The same instant written with an explicit offset, as some old clients did.
  const offsetMin = r.pick([60, 120, -300, 330, 540]);
  const local = new Date(ms + offsetMin * 60_000).toISOString().slice(0, 23);
  const sign = offsetMin < 0 ? '-' : '+';
  const abs = Math.abs(offsetMin);
  return `${local}${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}

function makeMeta(r: Rand): Record<string, unknown> {
  const meta: Record<string, unknown> = {
    source: r.pick(SOURCES),
    client: { version: `${r.int(1, 5)}.${r.int(0, 20)}.${r.int(0, 9)}`, locale: r.pick(LOCALES) },
  };
  if (r.chance(0.6)) meta.model = r.pick(MODELS);
  if (r.chance(0.5)) meta.tags = Array.from({ length: r.int(0, 3) }, () => r.pick(WORDS));
  if (r.chance(0.4)) meta.tokens = { prompt: r.int(10, 20000), completion: r.int(10, 8000) };
  if (r.chance(0.1)) meta.experiment = { name: `exp-${r.int(1, 40)}`, arm: r.pick(['a', 'b']), flags: { beta: r.chance(0.5) } };
  if (r.chance(0.05)) meta.pinned = true;
  if (r.chance(0.05)) meta.rating = r.chance(0.5) ? null : r.int(1, 5);
  return meta;
}

/** Conversation i of n as the legacy application left it. */
export function legacyDocument(seed: number, i: number, n: number): Record<string, unknown> {
  const r = new Rand(docRandom(seed, i));
  const frac = n <= 1 ? 1 : i / (n - 1);
  const era: Era = frac < 0.15 ? 'old' : frac < 0.35 ? 'mixed' : 'current';
  // Old names: always in the old era, per document in the mixed era, rarely afterwards.
  const oldness = era === 'old' ? 1 : era === 'mixed' ? 0.5 : 0.02;
  const oldDoc = r.chance(oldness);

  const createdMs = Math.floor(START_MS + frac * (END_MS - START_MS)) + r.int(0, 59_999);
  // ObjectId: creation second, then 5 bytes of "process" and a 3-byte counter (unique per i below 2^24).
  const idHex =
    Math.floor(createdMs / 1000)
      .toString(16)
      .padStart(8, '0') +
    (0xa1b2c3d4e5 + (i >>> 24)).toString(16).slice(-10).padStart(10, '0') +
    (i & 0xffffff).toString(16).padStart(6, '0');

  const doc: Record<string, unknown> = { _id: ObjectId.createFromHexString(idHex) };
  const user = `user-${r.int(1, Math.max(10, Math.floor(n / 8)))}`;
  if (oldDoc) doc.userId = user;
  else doc.user_id = user;

  const titleRoll = r.next();
  if (titleRoll < 0.7) doc.title = `${r.pick(TOPICS)} #${r.int(1, 999)}`;
  else if (titleRoll < 0.8) doc.title = null;

  let t = createdMs;
  if (!r.chance(0.01)) {
    const count = r.logNormal(8, 1.0, 1, 200);
    const messages: Record<string, unknown>[] = [];
    let prevRole = '';
    const upper = oldDoc && r.chance(0.7);
    const contentName = oldDoc && r.chance(0.9) ? 'content' : 'text';
    for (let m = 0; m < count; m++) {
      let role: string;
      if (m === 0 && r.chance(0.1)) role = 'system';
      else if (prevRole === 'assistant' && r.chance(0.1)) role = 'tool';
      else role = m % 2 === 0 ? 'user' : 'assistant';
      const size =
        role === 'user'
          ? r.logNormal(90, 1.0, 20, 8192)
          : role === 'assistant'
            ? r.logNormal(450, 1.0, 20, 8192)
            : role === 'tool'
              ? r.logNormal(300, 1.3, 20, 8192)
              : r.logNormal(200, 0.6, 20, 8192);
      t += r.int(1_000, role === 'user' ? 600_000 : 30_000);
      let ts: unknown = new Date(t);
      if (oldDoc) ts = r.chance(0.6) ? isoWithOffset(t, r) : t;
      else if (r.chance(0.01)) ts = t;
      const msg: Record<string, unknown> = { role: upper ? role.toUpperCase() : role, [contentName]: textOf(r, size), ts };
      messages.push(msg);
      prevRole = role;
    }
    doc.messages = messages;
  }

  if (!r.chance(0.1)) doc.meta = makeMeta(r);
  doc.created = oldDoc && era !== 'current' && r.chance(0.8) ? isoWithOffset(createdMs, r) : new Date(createdMs);

  const modified = r.chance(0.6);
  if (modified) {
    doc.updated = new Date(Math.max(t, createdMs) + r.int(1_000, 3_600_000));
    doc.v = r.logNormal(3, 0.8, 1, 500);
  } else if (r.chance(0.3)) {
    doc.v = 0;
  }
  if (modified && r.chance(0.03)) doc.deleted = true;
  return doc;
}

// ------------------------------------------------------------------------------------ seeding

export interface Dataset {
  dbName: string;
  /** LEGACY_MONGO_URL of the data set's database. */
  legacyUrl: string;
  collection: string;
  docs: number;
  messages: number;
  /** Sum of the documents' BSON sizes: the "MB" of MB/s. */
  bsonBytes: number;
  seed: number;
  /** How long generating and inserting took (0 when a kept data set was reused). */
  seedSeconds: number;
  indexSeconds: number;
  reused: boolean;
}

interface Manifest {
  _id: 'manifest';
  generator: number;
  docs: number;
  seed: number;
  messages: number;
  bsonBytes: number;
  seedSeconds: number;
  indexSeconds: number;
  complete: boolean;
}

/** The indexes the service creates at start-up (MongoLegacyStore.ensureIndexes), made once after the load. */
const SERVICE_INDEXES: Array<{ key: Record<string, 1 | -1>; name: string }> = [
  { key: { updated: 1, _id: 1 }, name: 'updated_id' },
  { key: { user_id: 1, created: -1, _id: -1 }, name: 'user_created_id' },
  { key: { userId: 1, created: -1, _id: -1 }, name: 'legacy_userId_created_id' },
];

async function seedInto(db: Db, docs: number, seed: number): Promise<Manifest> {
  const batchSize = envInt('BENCH_SEED_BATCH', 2000);
  const coll = db.collection(DATASET_COLLECTION);
  // Whatever an interrupted earlier seeding left is dropped whole (much faster than deleting documents).
  await db.dropDatabase();
  let messages = 0;
  let bsonBytes = 0;
  const t0 = performance.now();
  let lastReport = t0;
  const generate = (from: number): Record<string, unknown>[] => {
    const batch: Record<string, unknown>[] = [];
    for (let i = from; i < Math.min(docs, from + batchSize); i++) {
      const d = legacyDocument(seed, i, docs);
      messages += Array.isArray(d.messages) ? d.messages.length : 0;
      bsonBytes += BSON.calculateObjectSize(d);
      batch.push(d);
    }
    return batch;
  };
  // One insertMany at a time, in _id order, so the collection's natural order is its _id order (the seed
  // loop baseline relies on it); the next batch is generated while the previous one is being inserted.
  let pending: Promise<unknown> = Promise.resolve();
  for (let from = 0; from < docs; from += batchSize) {
    const batch = generate(from);
    await pending;
    pending = coll.insertMany(batch, { ordered: true });
    const now = performance.now();
    if (now - lastReport > 15_000) {
      lastReport = now;
      const s = (now - t0) / 1000;
      progress('dataset', `${from}/${docs} documents (${round(from / s, 0)} docs/s, ${round(bsonBytes / 1e6 / s, 1)} MB/s)`);
    }
  }
  await pending;
  const seedSeconds = (performance.now() - t0) / 1000;
  const t1 = performance.now();
  for (const ix of SERVICE_INDEXES) await coll.createIndex(ix.key, { name: ix.name });
  const indexSeconds = (performance.now() - t1) / 1000;
  const manifest: Manifest = {
    _id: 'manifest',
    generator: GENERATOR_VERSION,
    docs,
    seed,
    messages,
    bsonBytes,
    seedSeconds: round(seedSeconds, 1),
    indexSeconds: round(indexSeconds, 1),
    complete: true,
  };
  await db.collection<Manifest>(MANIFEST_COLLECTION).insertOne(manifest);
  return manifest;
}

/**
 * The collection's document count from collStats. Not estimatedDocumentCount: FerretDB answers `count`
 * by decoding every document (over a minute at 200,000 documents); collStats comes from table statistics.
 */
async function storedCount(db: Db): Promise<number> {
  const stats = await db.command({ collStats: DATASET_COLLECTION });
  return Number(stats.count);
}

const cached = new Map<number, Promise<Dataset>>();

/** The run's data set (BENCH_DOCS conversations): seeded on first use, then shared by every scenario of the run. */
export function sharedDataset(): Promise<Dataset> {
  return datasetOf(envInt('BENCH_DOCS', 200_000));
}

/** A data set of `docs` conversations (the same generator and seed), seeded once per run. */
export function datasetOf(docs: number): Promise<Dataset> {
  let p = cached.get(docs);
  if (!p) {
    p = openDataset(docs).catch((err) => {
      cached.delete(docs);
      throw err;
    });
    cached.set(docs, p);
  }
  return p;
}

async function openDataset(docs: number): Promise<Dataset> {
  const seed = envInt('BENCH_SEED', 42, 0);
  const keep = process.env.BENCH_KEEP_DATASET === '1';
  const env = servicesEnv();
  // A fixed name per (size, seed, generator), so a kept data set is found again by the next run.
  const dbName = `legacy_bench_ds_${docs}_${seed}_g${GENERATOR_VERSION}`;
  const legacyUrl = withDatabase(env.LEGACY_MONGO_URL!, dbName);
  const client = await MongoClient.connect(env.LEGACY_MONGO_URL!, { serverSelectionTimeoutMS: 3000 });
  try {
    const db = client.db(dbName);
    const found = await db.collection<Manifest>(MANIFEST_COLLECTION).findOne({ _id: 'manifest' });
    let manifest: Manifest;
    let reused = false;
    if (
      found &&
      found.complete &&
      found.generator === GENERATOR_VERSION &&
      found.docs === docs &&
      found.seed === seed &&
      (await storedCount(db)) === docs
    ) {
      manifest = found;
      reused = true;
      progress('dataset', `reusing kept data set ${dbName} (${docs} documents; seeded earlier in ${found.seedSeconds} s)`);
    } else {
      progress('dataset', `seeding ${docs} conversations (seed ${seed}) into ${dbName}`);
      manifest = await seedInto(db, docs, seed);
      progress(
        'dataset',
        `seeded ${docs} documents, ${manifest.messages} messages, ${round(manifest.bsonBytes / 1e6, 1)} MB BSON in ${manifest.seedSeconds} s ` +
          `(${round(docs / manifest.seedSeconds, 0)} docs/s), indexes in ${manifest.indexSeconds} s`,
      );
    }
    if (!keep) {
      onRunCleanup(`drop data set ${dbName}`, async () => {
        const c = await MongoClient.connect(env.LEGACY_MONGO_URL!, { serverSelectionTimeoutMS: 3000 });
        try {
          await c.db(dbName).dropDatabase();
        } finally {
          await c.close();
        }
      });
    }
    return {
      dbName,
      legacyUrl,
      collection: DATASET_COLLECTION,
      docs,
      messages: manifest.messages,
      bsonBytes: manifest.bsonBytes,
      seed,
      seedSeconds: reused ? 0 : manifest.seedSeconds,
      indexSeconds: reused ? 0 : manifest.indexSeconds,
      reused,
    };
  } finally {
    await client.close();
  }
}

/** The data set's figures as one bench line's fields. */
export function describeDataset(ds: Dataset): Record<string, unknown> {
  return {
    docs: ds.docs,
    messages: ds.messages,
    mb: round(ds.bsonBytes / 1e6, 1),
    mean_doc_bytes: Math.round(ds.bsonBytes / ds.docs),
    seed: ds.seed,
    database: ds.dbName,
    reused: ds.reused,
    ...(ds.reused ? {} : { seed_s: ds.seedSeconds, seed_docs_per_s: round(ds.docs / ds.seedSeconds, 0), index_s: ds.indexSeconds }),
  };
}

/** BSON bytes of the data set's first `n` documents (regenerated: the generator is deterministic). */
export function prefixBytes(ds: Dataset, n: number): number {
  let bytes = 0;
  for (let i = 0; i < Math.min(n, ds.docs); i++) bytes += BSON.calculateObjectSize(legacyDocument(ds.seed, i, ds.docs));
  return bytes;
}
