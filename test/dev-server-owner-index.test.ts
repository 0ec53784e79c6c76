/**
 * The legacy server answers the per-user listing (MongoLegacyStore.listByUser) with exactly the documents,
 * in exactly the order, that MongoDB's semantics require, on a collection whose owner fields hold every
 * kind of value legacy data may: `user_id` a string, an array holding the user or not, a number, null, an
 * ObjectId that reads like the user's id, missing with the legacy `userId` (itself a string or an array),
 * both fields present (agreeing or not), deleted or not, `created` a date, a string, a number or missing.
 * On the dev server the owner condition is narrowed with the `user_id` and `userId` indexes
 * (tools/ferretdb/patches/0004), which admit every JSON array and every stored string of that text; this
 * test pins that the handler's filter still decides what matches: each result is compared with a model of
 * MongoDB's semantics and with the server's own answer to the same filter written so that nothing is
 * pushed down ({$nor: [{$nor: [filter]}]}). Then, on a 20k-document collection, that one user's listing is
 * answered from the indexes (the plan the server reports); what that is worth in time is the bench's
 * (bench/scenarios/dev-server.ts), not this test's.
 */
import { Collection, Document, Filter, MongoClient, ObjectId } from 'mongodb';
import { MongoLegacyStore } from '../src/stores/mongo/mongo-legacy.store';
import { createTestDatabases, TestDatabases } from './support/databases';

const U = 'alice';
/** A user id with characters JSON escapes (quotes, backslash, HTML-escaped characters, non-ASCII). */
const V = 'zoë "q" \\ <&>';
/** A user id that reads like an ObjectId: the stored form of ObjectId(W) is the same JSON string. */
const W = '65a000000000000000000001';

const DAY = 86_400_000;
const BASE = Date.UTC(2024, 0, 1);

/** Owner fields: every combination the listing must tell apart. */
const OWNERS: Document[] = [
  { user_id: U },
  { user_id: [U] },
  { user_id: ['bob', U] },
  { user_id: ['bob'] },
  { user_id: [] },
  { user_id: 'bob' },
  { user_id: 'ALICE' },
  { user_id: `${U} ` },
  { user_id: 42 },
  { user_id: null, userId: U },
  { user_id: { id: U } },
  { userId: U },
  { userId: [U, 'bob'] },
  { userId: ['bob'] },
  { userId: 7 },
  { user_id: U, userId: U },
  { user_id: 'bob', userId: U },
  { user_id: U, userId: 'bob' },
  { user_id: 42, userId: U },
  { user_id: V },
  { user_id: ['x', V] },
  { userId: V },
  { user_id: W },
  { user_id: ObjectId.createFromHexString(W) },
  { userId: [ObjectId.createFromHexString(W)] },
  {},
];

const CREATED: unknown[] = [
  new Date(BASE + 3 * DAY),
  new Date(BASE + 1 * DAY),
  new Date(BASE + 3 * DAY), // the same date as another: `_id` breaks the tie
  '2023-05-01T00:00:00.000Z',
  BASE,
  undefined,
];

const DELETED: unknown[] = [undefined, false, true];

/** Every owner with every `created` and `deleted`, with ascending ObjectIds inserted out of order. */
function mixedDocuments(): Document[] {
  const docs: Document[] = [];
  let n = 0;
  for (const owner of OWNERS) {
    for (const created of CREATED) {
      for (const deleted of DELETED) {
        const _id = ObjectId.createFromHexString((0x650000000000 + n).toString(16).padStart(24, '0'));
        const d: Document = { _id, n: n++, ...owner };
        if (created !== undefined) d.created = created;
        if (deleted !== undefined) d.deleted = deleted;
        docs.push(d);
      }
    }
  }
  return docs.sort((a, b) => ((a.n * 7919) % 97) - ((b.n * 7919) % 97));
}

// ------------------------------------------------------------------- MongoDB semantics, for the expectations

/** {f: value} for a string or ObjectId value: the field equals it, or is an array with an element equal to it. */
function fieldEquals(doc: Document, f: string, value: string): boolean {
  const equal = (x: unknown) => typeof x === 'string' && x === value;
  const v = doc[f];
  return equal(v) || (Array.isArray(v) && v.some(equal));
}

function ownedBy(doc: Document, user: string): boolean {
  return fieldEquals(doc, 'user_id', user) || (!('user_id' in doc) && fieldEquals(doc, 'userId', user));
}

const live = (doc: Document) => doc.deleted !== true;
const time = (doc: Document) => (doc.created as Date).getTime();
const byCreatedDesc = (a: Document, b: Document) => time(b) - time(a) || Buffer.compare(b._id.id, a._id.id);

/** The documents of the dated query, in its order (created desc, `_id` desc), from a keyset position on. */
function datedExpected(docs: Document[], user: string, after?: { created: Date; _id: ObjectId }): Document[] {
  return docs
    .filter((d) => ownedBy(d, user) && live(d) && d.created instanceof Date)
    .filter(
      (d) =>
        !after || time(d) < after.created.getTime() || (time(d) === after.created.getTime() && Buffer.compare(d._id.id, after._id.id) < 0),
    )
    .sort(byCreatedDesc);
}

const ids = (docs: Document[]) => docs.map((d) => (d._id as ObjectId).toHexString());
const sortedIds = (docs: Document[]) => ids(docs).sort();

// ------------------------------------------------------------------- the listing's filters (as listByUser builds them)

function ownerFilter(user: string): Document {
  return { $or: [{ user_id: user }, { user_id: { $exists: false }, userId: user }] };
}

function datedFilter(user: string, after?: { created: Date; _id: ObjectId }): Document {
  const parts: Document[] = [ownerFilter(user), { deleted: { $ne: true } }, { created: { $type: 'date' } }];
  if (after) parts.push({ $or: [{ created: { $lt: after.created } }, { created: after.created, _id: { $lt: after._id } }] });
  return { $and: parts };
}

function stringCreatedFilter(user: string): Document {
  return { $and: [ownerFilter(user), { deleted: { $ne: true } }, { created: { $type: 'string' } }] };
}

/** The same filter written so that the server pushes none of it down: it evaluates it in full. */
const unpushed = (filter: Document): Document => ({ $nor: [{ $nor: [filter] }] });

/** The lines of the SQLite plan FerretDB reports for a find, or null from a server that reports another form. */
async function sqlitePlan(coll: Collection<Document>, filter: Document): Promise<string[] | null> {
  const explained = await coll
    .find(filter as Filter<Document>)
    .sort({ created: -1, _id: -1 })
    .limit(20)
    .explain();
  const plan = (explained.queryPlanner as { Plan?: unknown } | undefined)?.Plan;
  return Array.isArray(plan) ? plan.map(String) : null;
}

describe('dev server: the per-user listing with mixed owner fields, as MongoDB answers it', () => {
  let dbs: TestDatabases;
  let client: MongoClient;
  let coll: Collection<Document>;
  const docs = mixedDocuments();

  beforeAll(async () => {
    dbs = await createTestDatabases({ template: null });
    client = await MongoClient.connect(dbs.legacyUrl, { serverSelectionTimeoutMS: 5000, socketTimeoutMS: 60_000 });
    coll = client.db(dbs.legacyDbName).collection('conversations');
    await new MongoLegacyStore(client.db(dbs.legacyDbName), 'conversations').ensureIndexes();
    await coll.insertMany(docs);
  });

  afterAll(async () => {
    await client?.close();
    await dbs?.drop();
  });

  const find = (filter: Document) => coll.find(filter as Filter<Document>);

  it('the mixed collection holds matches of every kind, and non-matches of every kind', () => {
    expect(datedExpected(docs, U).length).toBeGreaterThan(10);
    expect(docs.filter((d) => !ownedBy(d, U)).length).toBeGreaterThan(docs.length / 2);
  });

  it.each([
    ['a plain user id', U],
    ['a user id JSON escapes', V],
    ['a user id that reads like an ObjectId', W],
    ['a user nobody has', 'nobody'],
  ])('owner filter alone, %s', async (_, user) => {
    const expected = sortedIds(docs.filter((d) => ownedBy(d, user)));
    expect(sortedIds(await find(ownerFilter(user)).toArray())).toEqual(expected);
    expect(sortedIds(await find(unpushed(ownerFilter(user))).toArray())).toEqual(expected);
  });

  it.each([
    ['a plain user id', U],
    ['a user id JSON escapes', V],
    ['a user id that reads like an ObjectId', W],
  ])('dated listing, sorted and limited, and every keyset page, %s', async (_, user) => {
    const all = datedExpected(docs, user);
    const full = await find(datedFilter(user)).sort({ created: -1, _id: -1 }).toArray();
    expect(ids(full)).toEqual(ids(all));
    expect(
      ids(
        await find(unpushed(datedFilter(user)))
          .sort({ created: -1, _id: -1 })
          .toArray(),
      ),
    ).toEqual(ids(all));
    expect(ids(await find(datedFilter(user)).sort({ created: -1, _id: -1 }).limit(3).toArray())).toEqual(ids(all.slice(0, 3)));
    for (const at of full) {
      const after = { created: at.created as Date, _id: at._id };
      const page = await find(datedFilter(user, after)).sort({ created: -1, _id: -1 }).limit(2).toArray();
      expect(ids(page)).toEqual(ids(datedExpected(docs, user, after).slice(0, 2)));
    }
  });

  it.each([
    ['a plain user id', U],
    ['a user id JSON escapes', V],
  ])('string-created listing (unsorted), %s', async (_, user) => {
    const expected = sortedIds(docs.filter((d) => ownedBy(d, user) && live(d) && typeof d.created === 'string'));
    expect(expected.length).toBeGreaterThan(0);
    expect(sortedIds(await find(stringCreatedFilter(user)).toArray())).toEqual(expected);
    expect(sortedIds(await find(unpushed(stringCreatedFilter(user))).toArray())).toEqual(expected);
  });

  it('equalities on the owner fields in other shapes, and counts, deletes and updates through them', async () => {
    const cases: Array<[Document, (d: Document) => boolean]> = [
      [{ user_id: U }, (d) => fieldEquals(d, 'user_id', U)],
      [{ user_id: { $eq: U } }, (d) => fieldEquals(d, 'user_id', U)],
      [{ userId: U, user_id: 42 }, (d) => fieldEquals(d, 'userId', U) && d.user_id === 42],
      [{ $and: [{ userId: U }, { deleted: true }] }, (d) => fieldEquals(d, 'userId', U) && d.deleted === true],
      [{ $or: [{ user_id: V }, { userId: V }] }, (d) => fieldEquals(d, 'user_id', V) || fieldEquals(d, 'userId', V)],
      // a branch without an indexed equality: nothing is pushed down, the results are the same
      [{ $or: [{ user_id: U }, { deleted: true }] }, (d) => fieldEquals(d, 'user_id', U) || d.deleted === true],
      [{ $or: [{ user_id: U }, { user_id: 42 }] }, (d) => fieldEquals(d, 'user_id', U) || d.user_id === 42],
    ];
    for (const [filter, pred] of cases) {
      expect(sortedIds(await find(filter).toArray())).toEqual(sortedIds(docs.filter(pred)));
      expect(await coll.countDocuments(filter as Filter<Document>)).toBe(docs.filter(pred).length);
    }

    const writes = client.db(dbs.legacyDbName).collection('writes');
    await new MongoLegacyStore(client.db(dbs.legacyDbName), 'writes').ensureIndexes();
    await writes.insertMany(docs);
    const upd = await writes.updateMany(ownerFilter(U), { $set: { touched: true } });
    expect(upd.modifiedCount).toBe(docs.filter((d) => ownedBy(d, U)).length);
    expect(sortedIds(await writes.find({ touched: true }).toArray())).toEqual(sortedIds(docs.filter((d) => ownedBy(d, U))));
    const del = await writes.deleteMany(datedFilter(U));
    expect(del.deletedCount).toBe(datedExpected(docs, U).length);
    expect(await writes.countDocuments({})).toBe(docs.length - datedExpected(docs, U).length);
  });
});

describe('dev server: one user listed from a large collection uses the owner indexes', () => {
  const SIZE = 20_000;
  const USERS = 1_000;
  let dbs: TestDatabases;
  let client: MongoClient;
  let coll: Collection<Document>;
  let store: MongoLegacyStore;

  beforeAll(async () => {
    dbs = await createTestDatabases({ template: null });
    client = await MongoClient.connect(dbs.legacyUrl, { serverSelectionTimeoutMS: 5000, socketTimeoutMS: 120_000 });
    coll = client.db(dbs.legacyDbName).collection('conversations');
    store = new MongoLegacyStore(client.db(dbs.legacyDbName), 'conversations');
    await store.ensureIndexes();
    const docs: Document[] = [];
    for (let i = 0; i < SIZE; i++) {
      const created = new Date(BASE + i * 60_000);
      const user = `user-${i % USERS}`;
      const d: Document = {
        _id: new ObjectId(),
        title: `conversation ${i}`,
        created,
        updated: created,
        v: 1,
        messages: [{ role: 'user', content: 'hello '.repeat(20), ts: created }],
      };
      if (i % 10 === 3) d.userId = user;
      else d.user_id = user;
      docs.push(d);
    }
    for (let i = 0; i < docs.length; i += 5000) await coll.insertMany(docs.slice(i, i + 5000));
  }, 120_000);

  afterAll(async () => {
    await client?.close();
    await dbs?.drop();
  });

  it('the plan the server reports reads the `user_id` and `userId` indexes, and no table scan', async () => {
    const plan = await sqlitePlan(coll, datedFilter('user-7'));
    if (plan === null) return; // not FerretDB: a server that reports its plan in another form
    const text = plan.join('\n');
    expect(text).toMatch(/MULTI-INDEX OR/);
    expect(text).toMatch(/USING INDEX \S*_user_created_id/);
    expect(text).toMatch(/USING INDEX \S*_legacy_userId_created_id/);
    expect(text).not.toMatch(/\bSCAN\b/);
    // Written so that nothing is pushed down, the same filter scans: the plan tells the two apart.
    expect((await sqlitePlan(coll, unpushed(datedFilter('user-7'))))!.join('\n')).toMatch(/\bSCAN\b/);
  });

  it("listByUser returns that user's 20 conversations, in order, and pages on from a position", async () => {
    const user = 'user-7';
    const expected = (await coll.find(unpushed(ownerFilter(user)) as Filter<Document>).toArray()).sort(byCreatedDesc);
    expect(expected).toHaveLength(SIZE / USERS);

    const listed = await store.listByUser(user, 20);
    expect(listed.map((c) => c.id)).toEqual(ids(expected));
    const page = await store.listByUser(user, 5, { createdAt: listed[4].createdAt, id: listed[4].id });
    expect(page.map((c) => c.id)).toEqual(ids(expected.slice(5, 10)));
  });
});
