/**
 * The legacy server answers `_id` range filters, `_id` sorts and `{_id: 1}` projections with exactly the
 * documents, in exactly the order, that MongoDB's semantics require, on a collection whose `_id`s are of
 * every kind the legacy store may hold: ObjectIds (including the lowest and highest), strings (some that
 * look like ObjectIds, some whose stored form sorts among them), numbers, dates, booleans, binary data
 * and an embedded document. On the dev server these reads come from the `_id_` index
 * (tools/ferretdb/patches/0003), which orders ObjectIds correctly but not other types; this test pins
 * what must not change: type bracketing ({_id: {$gt: ObjectId}} matches ObjectIds only), MongoDB's
 * cross-type sort order, skip/limit/batches over a pushed-down order, and the legacy store's own scans
 * (scanById, openRangeScan, openOtherIdsScan, scanIdSpace) on such a collection. Results only: timings
 * are measured by bench/scenarios/dev-server.ts.
 */
import { Binary, Collection, Document, Filter, MongoClient, ObjectId, Sort } from 'mongodb';
import { MongoLegacyStore } from '../src/stores/mongo/mongo-legacy.store';
import { createTestDatabases, TestDatabases } from './support/databases';

const oid = (hex: string) => ObjectId.createFromHexString(hex);

/** Deterministic "random" ObjectIds, so a failure can be replayed. */
function objectIds(n: number): ObjectId[] {
  let x = 20261204;
  const next = () => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return x.toString(16).padStart(8, '0');
  };
  return Array.from({ length: n }, () => oid(next() + next() + next()));
}

const LOW = oid('000000000000000000000000');
const HIGH = oid('ffffffffffffffffffffffff');
const MID = oid('650000000000000000000000');
const OBJECT_IDS = [
  LOW,
  oid('000000000000000000000001'),
  MID,
  oid('650000000000000000000001'),
  oid('65ffffffffffffffffffffff'),
  HIGH,
  ...objectIds(40),
];

/** `_id`s of other types. Several are stored (JSON text) inside the range of ObjectIds' stored form. */
const OTHER_IDS: unknown[] = [
  'str',
  '7',
  'ABCDEF',
  '650000000000000000000aaa', // 24 hex digits: an ObjectId's stored form, but a string
  'ffffffffffffffffffffffffff',
  '<a> & "b"',
  '',
  -1,
  2.5,
  5,
  new Date(0),
  new Date('2024-01-01T00:00:00Z'),
  true,
  false,
  new Binary(Buffer.from('ab')),
  { x: 1 },
];

// ------------------------------------------------------------------- MongoDB semantics, for the expectations

const isOid = (v: unknown): v is ObjectId => v instanceof ObjectId;

/** MongoDB's order of BSON types for comparison and sorting. */
function typeRank(v: unknown): number {
  if (typeof v === 'number') return 1;
  if (typeof v === 'string') return 2;
  if (v instanceof Binary) return 4;
  if (isOid(v)) return 5;
  if (typeof v === 'boolean') return 6;
  if (v instanceof Date) return 7;
  return 3; // embedded document
}

function compareIds(a: unknown, b: unknown): number {
  const ta = typeRank(a);
  const tb = typeRank(b);
  if (ta !== tb) return ta - tb;
  if (typeof a === 'number') return a - (b as number);
  if (typeof a === 'string') return Buffer.compare(Buffer.from(a), Buffer.from(b as string));
  if (a instanceof Binary) {
    const x = a.buffer;
    const y = (b as Binary).buffer;
    return x.length - y.length || a.sub_type - (b as Binary).sub_type || Buffer.compare(Buffer.from(x), Buffer.from(y));
  }
  if (isOid(a)) return Buffer.compare(a.id, (b as ObjectId).id);
  if (typeof a === 'boolean') return Number(a) - Number(b);
  if (a instanceof Date) return a.getTime() - (b as Date).getTime();
  return 0;
}

const ALL_IDS = [...OBJECT_IDS, ...OTHER_IDS];
const ascending = (ids: unknown[]) => [...ids].sort(compareIds);
const descending = (ids: unknown[]) => [...ids].sort((a, b) => compareIds(b, a));
const oidsWhere = (pred: (id: ObjectId) => boolean) => OBJECT_IDS.filter(pred);
const cmp = (a: ObjectId, b: ObjectId) => Buffer.compare(a.id, b.id);

/**
 * A document's fields besides `_id`, derived from it, so the test can check whole documents. Some put
 * `_id` last (the server stores it first) and some hold `_id` keys and `"_id":"` text further in, which
 * an `_id`-only read must not take for the document's own.
 */
function documentFor(_id: unknown, i: number): Document {
  const rest: Document = { n: i, tag: isOid(_id) ? 'oid' : typeof _id };
  if (i % 5 === 0) rest.nested = { _id: 'inner', note: '"_id":"000000000000000000000000"', list: [{ _id: 7 }] };
  return i % 2 === 0 ? { _id, ...rest } : { ...rest, _id };
}
const DOCS = ALL_IDS.map(documentFor);
const docOf = new Map(DOCS.map((d) => [JSON.stringify(d._id) + typeRank(d._id), d]));
const docsFor = (ids: unknown[]) => ids.map((id) => docOf.get(JSON.stringify(id) + typeRank(id)));

const A = OBJECT_IDS[10];
const B = OBJECT_IDS[20];
const [LO, HI] = cmp(A, B) < 0 ? [A, B] : [B, A];

describe('dev server: `_id` reads with mixed `_id` types, as MongoDB answers them', () => {
  let dbs: TestDatabases;
  let client: MongoClient;
  let coll: Collection<Document>;

  beforeAll(async () => {
    dbs = await createTestDatabases({ template: null });
    client = await MongoClient.connect(dbs.legacyUrl, { serverSelectionTimeoutMS: 5000, socketTimeoutMS: 30_000 });
    coll = client.db(dbs.legacyDbName).collection('conversations');
    // Inserted out of `_id` order, so that no order comes from insertion.
    const shuffled = [...DOCS].sort((a, b) => ((a.n * 7919) % 61) - ((b.n * 7919) % 61));
    await coll.insertMany(shuffled);
  });

  afterAll(async () => {
    await client?.close();
    await dbs?.drop();
  });

  // Filters as plain documents: the driver's types assume ObjectId `_id`s, which this collection does not hold.
  const find = (
    filter: Document,
    sort?: Sort,
    extra: { skip?: number; limit?: number; batchSize?: number; projection?: Document } = {},
  ) => {
    let cursor = coll.find(filter as Filter<Document>, { projection: extra.projection, batchSize: extra.batchSize });
    if (sort) cursor = cursor.sort(sort);
    if (extra.skip) cursor = cursor.skip(extra.skip);
    if (extra.limit) cursor = cursor.limit(extra.limit);
    return cursor.toArray();
  };

  describe('ranges of ObjectIds match ObjectIds only, in `_id` order', () => {
    const cases: Array<[string, Document, ObjectId[]]> = [
      ['$gt', { _id: { $gt: MID } }, oidsWhere((id) => cmp(id, MID) > 0)],
      ['$gte', { _id: { $gte: MID } }, oidsWhere((id) => cmp(id, MID) >= 0)],
      ['$lt', { _id: { $lt: MID } }, oidsWhere((id) => cmp(id, MID) < 0)],
      ['$lte', { _id: { $lte: MID } }, oidsWhere((id) => cmp(id, MID) <= 0)],
      ['$gt and $lte', { _id: { $gt: LO, $lte: HI } }, oidsWhere((id) => cmp(id, LO) > 0 && cmp(id, HI) <= 0)],
      ['$gte and $lt', { _id: { $gte: LO, $lt: HI } }, oidsWhere((id) => cmp(id, LO) >= 0 && cmp(id, HI) < 0)],
      ['$gt the highest', { _id: { $gt: HIGH } }, []],
      ['$gte the highest', { _id: { $gte: HIGH } }, [HIGH]],
      ['$lt the lowest', { _id: { $lt: LOW } }, []],
      ['$lte the lowest', { _id: { $lte: LOW } }, [LOW]],
      ['$gt the lowest', { _id: { $gt: LOW } }, oidsWhere((id) => cmp(id, LOW) > 0)],
      ['an empty range', { _id: { $gt: HI, $lt: LO } }, []],
      ['$type objectId', { _id: { $type: 'objectId' } }, OBJECT_IDS],
      ['$type 7', { _id: { $type: 7 } }, OBJECT_IDS],
      ['$gt and $type objectId', { _id: { $gt: MID, $type: 'objectId' } }, oidsWhere((id) => cmp(id, MID) > 0)],
      ['$lte and $type objectId', { _id: { $type: 'objectId', $lte: MID } }, oidsWhere((id) => cmp(id, MID) <= 0)],
      ['an ObjectId bound and a string bound', { _id: { $gte: LOW, $lt: 'zzz' } }, []],
    ];

    it.each(cases)('%s, ascending', async (_, filter, ids) => {
      expect(await find(filter, { _id: 1 })).toEqual(docsFor(ascending(ids)));
    });

    it.each(cases)('%s, descending', async (_, filter, ids) => {
      expect(await find(filter, { _id: -1 })).toEqual(docsFor(descending(ids)));
    });

    it.each(cases)('%s, unsorted: the same documents', async (_, filter, ids) => {
      const docs = await find(filter);
      expect(docs.sort((a, b) => compareIds(a._id, b._id))).toEqual(docsFor(ascending(ids)));
    });

    it('with a condition on another field', async () => {
      const expected = docsFor(ascending(oidsWhere((id) => cmp(id, MID) > 0))).filter((d) => d!.n % 2 === 0);
      expect(await find({ _id: { $gt: MID }, n: { $mod: [2, 0] } }, { _id: 1 })).toEqual(expected);
    });

    it('with skip and limit, either way', async () => {
      const up = ascending(oidsWhere((id) => cmp(id, LO) >= 0));
      expect(await find({ _id: { $gte: LO } }, { _id: 1 }, { skip: 3, limit: 5 })).toEqual(docsFor(up.slice(3, 8)));
      const down = descending(oidsWhere((id) => cmp(id, HI) <= 0));
      expect(await find({ _id: { $lte: HI } }, { _id: -1 }, { skip: 2, limit: 4 })).toEqual(docsFor(down.slice(2, 6)));
      expect(await find({ _id: { $type: 'objectId' } }, { _id: 1 }, { limit: 1 })).toEqual(docsFor([LOW]));
      expect(await find({ _id: { $type: 'objectId' } }, { _id: -1 }, { limit: 1 })).toEqual(docsFor([HIGH]));
    });

    it('in small batches (getMore), exactly once each and in order', async () => {
      const ids = ascending(oidsWhere((id) => cmp(id, LOW) > 0));
      expect(await find({ _id: { $gt: LOW } }, { _id: 1 }, { batchSize: 3 })).toEqual(docsFor(ids));
      expect(await find({ _id: { $type: 'objectId' } }, { _id: -1 }, { batchSize: 2 })).toEqual(docsFor(descending(OBJECT_IDS)));
    });
  });

  describe('other types: bracketing and the order across types', () => {
    it('the whole collection by `_id`, both ways (MongoDB order of types)', async () => {
      expect(await find({}, { _id: 1 })).toEqual(docsFor(ascending(ALL_IDS)));
      expect(await find({}, { _id: -1 })).toEqual(docsFor(descending(ALL_IDS)));
    });

    it('the whole collection by `_id` with skip, limit and small batches, both ways', async () => {
      expect(await find({}, { _id: 1 }, { skip: 5, limit: 20 })).toEqual(docsFor(ascending(ALL_IDS).slice(5, 25)));
      expect(await find({}, { _id: -1 }, { skip: 3, limit: 30 })).toEqual(docsFor(descending(ALL_IDS).slice(3, 33)));
      expect(await find({}, { _id: 1 }, { limit: 1 })).toEqual(docsFor(ascending(ALL_IDS).slice(0, 1)));
      expect(await find({}, { _id: -1 }, { limit: 1 })).toEqual(docsFor(descending(ALL_IDS).slice(0, 1)));
      expect(await find({}, { _id: 1 }, { batchSize: 4 })).toEqual(docsFor(ascending(ALL_IDS)));
      expect(await find({}, { _id: -1 }, { batchSize: 5 })).toEqual(docsFor(descending(ALL_IDS)));
    });

    it('a filter on other fields, sorted by `_id` across types', async () => {
      const ids = DOCS.filter((d) => d.n % 3 === 1).map((d) => d._id);
      expect(await find({ n: { $mod: [3, 1] } }, { _id: -1 })).toEqual(docsFor(descending(ids)));
      expect(await find({ tag: 'string' }, { _id: 1 })).toEqual(docsFor(ascending(OTHER_IDS.filter((v) => typeof v === 'string'))));
      expect(await find({ tag: 'oid' }, { _id: -1 })).toEqual(docsFor(descending(OBJECT_IDS)));
      expect(await find({ tag: 'none' }, { _id: 1 })).toEqual([]);
    });

    it('{_id: {$not: {$type: "objectId"}}} returns every other `_id`, in order', async () => {
      expect(await find({ _id: { $not: { $type: 'objectId' } } }, { _id: 1 })).toEqual(docsFor(ascending(OTHER_IDS)));
      expect(await find({ _id: { $not: { $type: 'objectId' } } }, { _id: 1 }, { skip: 3, limit: 4 })).toEqual(
        docsFor(ascending(OTHER_IDS).slice(3, 7)),
      );
    });

    it('ranges of strings and of numbers match their own type only', async () => {
      const strings = OTHER_IDS.filter((v): v is string => typeof v === 'string');
      expect(await find({ _id: { $gt: 'm' } }, { _id: 1 })).toEqual(docsFor(ascending(strings.filter((s) => compareIds(s, 'm') > 0))));
      expect(await find({ _id: { $lt: 10 } }, { _id: -1 })).toEqual(docsFor(descending([-1, 2.5, 5])));
    });

    it('an $or across types is sorted across types', async () => {
      const filter = { $or: [{ _id: { $gt: HI } }, { _id: 'str' }, { _id: 5 }] };
      expect(await find(filter, { _id: 1 })).toEqual(docsFor(ascending([...oidsWhere((id) => cmp(id, HI) > 0), 'str', 5])));
    });

    it('equality tells an ObjectId from a string of the same look', async () => {
      expect(await find({ _id: '650000000000000000000aaa' })).toEqual(docsFor(['650000000000000000000aaa']));
      expect(await find({ _id: oid('650000000000000000000001') })).toEqual(docsFor([oid('650000000000000000000001')]));
      expect(await find({ _id: '650000000000000000000001' })).toEqual([]);
      expect(await find({ _id: { $eq: MID } })).toEqual(docsFor([MID]));
      for (const id of OTHER_IDS) expect(await find({ _id: id })).toEqual(docsFor([id]));
    });
  });

  describe('{_id: 1} projections', () => {
    const only = (ids: unknown[]) => ids.map((_id) => ({ _id }));

    it('of a range, sorted', async () => {
      expect(await find({ _id: { $gt: MID } }, { _id: 1 }, { projection: { _id: 1 } })).toEqual(
        only(ascending(oidsWhere((id) => cmp(id, MID) > 0))),
      );
      expect(await find({ _id: { $type: 'objectId' } }, { _id: -1 }, { projection: { _id: true } })).toEqual(only(descending(OBJECT_IDS)));
    });

    it('of the whole collection, unsorted (as scanIdSpace reads it): every `_id` once, with its type', async () => {
      const docs = await find({}, undefined, { projection: { _id: 1 }, batchSize: 7 });
      expect(docs.sort((a, b) => compareIds(a._id, b._id))).toEqual(only(ascending(ALL_IDS)));
    });

    it('of other types, and of everything sorted', async () => {
      expect(await find({ _id: { $not: { $type: 'objectId' } } }, { _id: 1 }, { projection: { _id: 1 } })).toEqual(
        only(ascending(OTHER_IDS)),
      );
      expect(await find({}, { _id: -1 }, { projection: { _id: 1 } })).toEqual(only(descending(ALL_IDS)));
    });

    it('with a filter on another field', async () => {
      const expected = DOCS.filter((d) => d.n % 3 === 0).map((d) => d._id);
      expect(await find({ n: { $mod: [3, 0] } }, { _id: 1 }, { projection: { _id: 1 } })).toEqual(only(ascending(expected)));
    });
  });

  describe("the legacy store's own scans", () => {
    const store = () => new MongoLegacyStore(client.db(dbs.legacyDbName), 'conversations');
    const hexes = (ids: ObjectId[]) => ids.map((id) => id.toHexString());

    it('scanById pages through ObjectIds only, in order, from an ObjectId on (as catch-up reads it)', async () => {
      const all = (ascending(OBJECT_IDS) as ObjectId[]).filter((id) => cmp(id, LOW) > 0);
      const seen: string[] = [];
      let after = LOW.toHexString();
      for (let page = 0; page < 100; page++) {
        const docs = await store().scanById(7, after);
        if (docs.length === 0) break;
        seen.push(...docs.map((d) => (d._id as unknown as ObjectId).toHexString()));
        after = seen[seen.length - 1];
      }
      expect(seen).toEqual(hexes(all));
      const bounded = await store().scanById(1000, LO.toHexString(), HI.toHexString());
      expect(bounded.map((d) => (d._id as unknown as ObjectId).toHexString())).toEqual(
        hexes(all.filter((id) => cmp(id, LO) > 0 && cmp(id, HI) <= 0)),
      );
      // Without a start it is a plain `_id` sort: MongoDB puts numbers and strings before ObjectIds.
      expect((await store().scanById(4)).map((d) => d._id)).toEqual(ascending(ALL_IDS).slice(0, 4));
    });

    it('openRangeScan reads every ObjectId once, in order, with bounds and stops', async () => {
      const all = ascending(OBJECT_IDS) as ObjectId[];
      const scan = store().openRangeScan(null, null, 4);
      const first = await scan.next(5);
      const rest = await scan.next(1000);
      await scan.close();
      expect([...first, ...rest].map((d) => (d._id as unknown as ObjectId).toHexString())).toEqual(hexes(all));

      const bounded = store().openRangeScan(LO.toHexString(), HI.toHexString(), 3);
      const mid = all.filter((id) => cmp(id, LO) > 0 && cmp(id, HI) <= 0);
      const upTo = mid[Math.floor(mid.length / 2)].toHexString();
      const a = await bounded.next(1000, upTo);
      const b = await bounded.next(1000);
      await bounded.close();
      expect(a.map((d) => (d._id as unknown as ObjectId).toHexString())).toEqual(hexes(mid.filter((id) => id.toHexString() <= upTo)));
      expect(b.map((d) => (d._id as unknown as ObjectId).toHexString())).toEqual(hexes(mid.filter((id) => id.toHexString() > upTo)));
    });

    // The sync's latency back-off reads this: the time of a `next` served from the batch in hand is no sample of the server's.
    it("openRangeScan counts the server's getMores a read waited for, not the opening query nor reads from its batch", async () => {
      const scan = store().openRangeScan(null, null, 4);
      const fetchesOf = async (n: number) => {
        const docs = await scan.next(n);
        expect(docs).toHaveLength(n);
        return scan.lastFetches.count;
      };
      // Server batches of 4: the query brings 1-4, getMores 5-8 and 9-12; the twelfth is read from the batch in hand.
      expect([await fetchesOf(2), await fetchesOf(2), await fetchesOf(2), await fetchesOf(5)]).toEqual([0, 0, 1, 1]);
      expect(scan.lastFetches.ms).toBeGreaterThan(0);
      expect(await fetchesOf(1)).toBe(0);
      await scan.close();
    });

    it('openOtherIdsScan reads every other `_id` once, in order, from any skip', async () => {
      const scan = store().openOtherIdsScan(0, 3);
      const docs = [...(await scan.next(4)), ...(await scan.next(1000))];
      await scan.close();
      expect(docs.map((d) => d._id)).toEqual(ascending(OTHER_IDS));
      const skipped = store().openOtherIdsScan(5, 2);
      const tail = await skipped.next(1000);
      await skipped.close();
      expect(tail.map((d) => d._id)).toEqual(ascending(OTHER_IDS).slice(5));
    });

    it('scanIdSpace yields every ObjectId once and a null for every other `_id`', async () => {
      const out: Array<string | null> = [];
      for await (const batch of store().scanIdSpace(6)) out.push(...batch);
      expect(out.filter((x) => x === null)).toHaveLength(OTHER_IDS.length);
      expect(out.filter((x): x is string => x !== null).sort()).toEqual(hexes(OBJECT_IDS).sort());
      const after: Array<string | null> = [];
      for await (const batch of store().scanIdSpace(6, MID.toHexString())) after.push(...batch);
      expect(after.sort()).toEqual(hexes(OBJECT_IDS.filter((id) => cmp(id, MID) > 0)).sort());
    });
  });

  it('writes by `_id` of every type still find their document', async () => {
    const writes = client.db(dbs.legacyDbName).collection('writes');
    await writes.insertMany(ALL_IDS.map((_id): Document => ({ _id, v: 1 })));
    for (const _id of ALL_IDS) {
      const f = { _id } as Filter<Document>;
      expect((await writes.updateOne({ ...f, v: 1 }, { $set: { v: 2 } })).modifiedCount).toBe(1);
      expect((await writes.replaceOne({ ...f, v: 2 }, { v: 3 })).modifiedCount).toBe(1);
      expect((await writes.findOneAndUpdate({ ...f, v: 3 }, { $set: { v: 4 } }, { returnDocument: 'after' }))?.v).toBe(4);
      expect((await writes.deleteOne({ ...f, v: 4 })).deletedCount).toBe(1);
    }
    expect(await writes.countDocuments({})).toBe(0);
  });
});
