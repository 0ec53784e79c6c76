/**
 * Probe: does the legacy server keep MongoDB's single-document atomicity? The service's version guard
 * (SPEC section 5, MongoLegacyStore) relies on it: a write whose filter holds `{_id, v: n}` either
 * matches and writes in one step or does not match. On a server that reads and then writes in two
 * steps, two connections can both take version n, and the second silently overwrites (or deletes)
 * what the first wrote. FerretDB v1 does that unless tools/ferretdb/patches/0002 is applied.
 *
 * Each race runs for RACE_MS on a few documents from CONNECTIONS separate MongoClients (one connection
 * each). A success is recorded as a claim of (document, version); MongoDB never grants one claim twice,
 * and each document's final version equals the number of claims on it. Every server call has a timeout.
 * DEV_SERVER_PROBE_VERBOSE=1 prints each race's figures.
 */
import { Collection, Document, MongoClient, MongoServerError, ObjectId } from 'mongodb';
import { withTimeout } from '../src/common/timeout';
import { createTestDatabases, TestDatabases } from './support/databases';

const CONNECTIONS = 6;
const DOCS = 4;
const RACE_MS = 2000;
const CALL_TIMEOUT_MS = 10_000;
const DUPLICATE_KEY = 11000;

function within<T>(ms: number, what: string, p: Promise<T>): Promise<T> {
  return withTimeout(p, ms, `${what} did not answer within ${ms} ms`);
}

const call = <T>(what: string, p: Promise<T>) => within(CALL_TIMEOUT_MS, what, p);

function isDuplicateKey(err: unknown): boolean {
  return err instanceof MongoServerError && err.code === DUPLICATE_KEY;
}

interface RaceResult {
  race: string;
  successes: number;
  sameVersion: number;
  attempts: number;
  /** Documents whose final version differs from the number of claims on them (lost updates). */
  lostUpdates: number;
}

/** Claims of (document, version): a second claim of the same pair is a same-version success. */
class Claims {
  private readonly taken = new Map<string, Set<number>>();
  successes = 0;
  sameVersion = 0;
  attempts = 0;

  claim(id: ObjectId, version: number): void {
    const key = id.toHexString();
    const set = this.taken.get(key) ?? new Set<number>();
    this.taken.set(key, set);
    this.successes++;
    if (set.has(version)) this.sameVersion++;
    else set.add(version);
  }

  count(id: ObjectId): number {
    return this.taken.get(id.toHexString())?.size ?? 0;
  }

  result(race: string, lostUpdates = 0): RaceResult {
    return { race, successes: this.successes, sameVersion: this.sameVersion, attempts: this.attempts, lostUpdates };
  }
}

/** Runs `step` on every connection in a loop until the deadline; step(worker, i) picks its own document. */
async function race(clients: MongoClient[], step: (worker: number, i: number) => Promise<void>): Promise<void> {
  const deadline = Date.now() + RACE_MS;
  await within(
    RACE_MS + 3 * CALL_TIMEOUT_MS,
    'a race',
    Promise.all(
      clients.map(async (_, worker) => {
        for (let i = 0; Date.now() < deadline; i++) await step(worker, i);
      }),
    ),
  );
}

function report<T extends RaceResult>(r: T): T {
  if (process.env.DEV_SERVER_PROBE_VERBOSE === '1') process.stderr.write(`dev-server-atomicity ${JSON.stringify(r)}\n`);
  return r;
}

describe('dev server: single-document atomicity under concurrent conditional writes', () => {
  let dbs: TestDatabases;
  let clients: MongoClient[];
  const ids = Array.from({ length: DOCS }, () => new ObjectId());
  const pick = (worker: number, i: number) => ids[(worker + i) % DOCS];

  beforeAll(async () => {
    dbs = await createTestDatabases({ template: null });
    clients = await Promise.all(
      Array.from({ length: CONNECTIONS }, () =>
        MongoClient.connect(dbs.legacyUrl, { maxPoolSize: 1, serverSelectionTimeoutMS: 5000, socketTimeoutMS: CALL_TIMEOUT_MS }),
      ),
    );
  });

  afterAll(async () => {
    await Promise.all((clients ?? []).map((c) => c.close()));
    await dbs?.drop();
  });

  const coll = (worker: number, name: string): Collection<Document> => clients[worker].db(dbs.legacyDbName).collection(name);

  async function finalVersions(name: string): Promise<Map<string, number>> {
    const docs = await call('final read', coll(0, name).find({}).toArray());
    return new Map(docs.map((d) => [d._id.toHexString(), d.v as number]));
  }

  async function lostUpdates(name: string, claims: Claims): Promise<number> {
    const finals = await finalVersions(name);
    return ids.filter((id) => (finals.get(id.toHexString()) ?? 0) !== claims.count(id)).length;
  }

  it('replaceOne guarded by {_id, v} (upsert: true): each version is taken once', async () => {
    const name = 'cas_replace';
    const claims = new Claims();
    // No seed documents: the first compare-and-set of each document (v: 0) is an upsert.
    await race(clients, async (worker, i) => {
      const _id = pick(worker, i);
      const current = await call('findOne', coll(worker, name).findOne({ _id }));
      const v = (current?.v as number | undefined) ?? 0;
      claims.attempts++;
      try {
        const r = await call('replaceOne', coll(worker, name).replaceOne({ _id, v }, { v: v + 1, by: worker }, { upsert: true }));
        if (r.matchedCount === 1 || r.upsertedCount === 1) claims.claim(_id, v);
      } catch (err) {
        if (!isDuplicateKey(err)) throw err; // the upsert met a document of another version: not taken
      }
    });
    const r = report(claims.result('replaceOne-cas', await lostUpdates(name, claims)));
    expect(r).toEqual({ ...r, sameVersion: 0, lostUpdates: 0 });
    expect(r.successes).toBeGreaterThan(0);
  });

  it('findOneAndUpdate guarded by {_id, v}: each version is taken once', async () => {
    const name = 'cas_find_and_modify';
    await call('seed', coll(0, name).insertMany(ids.map((_id) => ({ _id, v: 0 }))));
    const claims = new Claims();
    await race(clients, async (worker, i) => {
      const _id = pick(worker, i);
      const current = await call('findOne', coll(worker, name).findOne({ _id }));
      const v = current!.v as number;
      claims.attempts++;
      const before = await call(
        'findOneAndUpdate',
        coll(worker, name).findOneAndUpdate({ _id, v }, { $set: { v: v + 1, by: worker } }, { returnDocument: 'before' }),
      );
      if (before) {
        expect(before.v).toBe(v);
        claims.claim(_id, v);
      }
    });
    const r = report(claims.result('findOneAndUpdate-cas', await lostUpdates(name, claims)));
    expect(r).toEqual({ ...r, sameVersion: 0, lostUpdates: 0 });
    expect(r.successes).toBeGreaterThan(0);
  });

  it('updateOne with $inc guarded by {_id, v}: each version is taken once', async () => {
    const name = 'cas_inc';
    await call('seed', coll(0, name).insertMany(ids.map((_id) => ({ _id, v: 0 }))));
    const claims = new Claims();
    await race(clients, async (worker, i) => {
      const _id = pick(worker, i);
      const current = await call('findOne', coll(worker, name).findOne({ _id }));
      const v = current!.v as number;
      claims.attempts++;
      const r = await call('updateOne', coll(worker, name).updateOne({ _id, v }, { $inc: { v: 1 }, $set: { by: worker } }));
      if (r.matchedCount === 1) claims.claim(_id, v);
    });
    const r = report(claims.result('updateOne-inc-guarded', await lostUpdates(name, claims)));
    expect(r).toEqual({ ...r, sameVersion: 0, lostUpdates: 0 });
    expect(r.successes).toBeGreaterThan(0);
  });

  it('deleteOne guarded by {_id, v} racing the re-insert of the next version: each version is deleted once', async () => {
    const name = 'cas_delete_insert';
    await call('seed', coll(0, name).insertMany(ids.map((_id) => ({ _id, v: 0 }))));
    // A document lives as version n until a guarded delete of n takes it; only that deleter inserts n + 1,
    // so every version exists once. A delete that removes n + 1 while guarded by n claims n a second time.
    const deletes = new Claims();
    const inserts = new Claims();
    await race(clients, async (worker, i) => {
      const _id = pick(worker, i);
      const current = await call('findOne', coll(worker, name).findOne({ _id }));
      if (!current) return; // between a delete and its re-insert
      const v = current.v as number;
      deletes.attempts++;
      const r = await call('deleteOne', coll(worker, name).deleteOne({ _id, v }));
      if (r.deletedCount !== 1) return;
      deletes.claim(_id, v);
      inserts.attempts++;
      try {
        await call('insertOne', coll(worker, name).insertOne({ _id, v: v + 1, by: worker }));
        inserts.claim(_id, v + 1);
      } catch (err) {
        if (!isDuplicateKey(err)) throw err;
      }
    });
    const finals = await finalVersions(name);
    // Each document is back (its deleter re-inserted it) at one past its last deleted version.
    const wrongFinal = ids.filter((id) => finals.get(id.toHexString()) !== deletes.count(id)).length;
    const r = report({
      ...deletes.result('deleteOne-guarded+insert', wrongFinal),
      insertSameVersion: inserts.sameVersion,
      inserts: inserts.successes,
    });
    expect(r).toEqual({ ...r, sameVersion: 0, lostUpdates: 0, insertSameVersion: 0, inserts: r.successes });
    expect(r.successes).toBeGreaterThan(0);
  });

  it('insertOne of the same new _id from every connection at once: exactly one succeeds', async () => {
    const name = 'insert_race';
    const claims = new Claims();
    let rounds = 0;
    const deadline = Date.now() + RACE_MS;
    while (Date.now() < deadline) {
      const _id = new ObjectId();
      rounds++;
      const results = await call(
        'an insert round',
        Promise.allSettled(clients.map((_, worker) => coll(worker, name).insertOne({ _id, by: worker }))),
      );
      for (const res of results) {
        claims.attempts++;
        if (res.status === 'fulfilled') claims.claim(_id, 0);
        else if (!isDuplicateKey(res.reason)) throw res.reason;
      }
    }
    const r = report({ ...claims.result('insertOne-same-id'), rounds });
    expect(r).toEqual({ ...r, sameVersion: 0, successes: rounds });
    expect(await call('count', coll(0, name).countDocuments({}))).toBe(rounds);
  });
});
