import fc from 'fast-check';
import { MongoClient, ObjectId } from 'mongodb';
import { DataSource } from 'typeorm';
import { canonical } from '../src/model/canonical';
import type { Conversation } from '../src/model/conversation.model';
import { UnreadableDocumentError } from '../src/model/errors';
import { fromLegacy } from '../src/model/legacy-transform';
import { arbConversation } from '../src/model/testing/arbitraries';
import { hasNestedArray } from '../src/model/testing/ferretdb-limits';
import { sampleConversation } from '../src/model/testing/fixtures';
import { MongoLegacyStore } from '../src/stores/mongo/mongo-legacy.store';
import { createDataSource } from '../src/stores/postgres/data-source';
import { PostgresConversationStore } from '../src/stores/postgres/postgres-conversation.store';
import { createTestDatabases, TestDatabases } from './support/databases';
import { expectCurrentLegacyFormat } from './support/stores';

const hex = (n: number) => n.toString(16).padStart(24, '0');

describe('stores on real servers', () => {
  let dbs: TestDatabases;
  let ds: DataSource;
  let mongo: MongoClient;
  let legacy: MongoLegacyStore;
  let pg: PostgresConversationStore;

  beforeAll(async () => {
    dbs = await createTestDatabases();
    ds = createDataSource({ url: dbs.databaseUrl, poolSize: 4 });
    await ds.initialize();
    mongo = await MongoClient.connect(dbs.legacyUrl);
    legacy = new MongoLegacyStore(mongo.db(dbs.legacyDbName), 'conversations');
    await legacy.ensureIndexes();
    pg = new PostgresConversationStore(ds);
  });

  afterAll(async () => {
    await ds?.destroy();
    await mongo?.close();
    await dbs?.drop();
  });

  const raw = () => mongo.db(dbs.legacyDbName).collection('conversations');

  describe('legacy store', () => {
    it('writes exactly the current legacy format, read back with the raw driver', async () => {
      const c = sampleConversation({ id: hex(1), version: 3, metadata: { a: { b: [1, 'x'] } } });
      expect(await legacy.putIfNewer(c)).toBe('written');
      const doc = await raw().findOne({ _id: new ObjectId(c.id) });
      expect(Object.keys(doc!).sort()).toEqual(['_id', 'created', 'messages', 'meta', 'title', 'updated', 'user_id', 'v'].sort());
      expect(doc).toEqual({
        _id: new ObjectId(c.id),
        user_id: c.userId,
        title: c.title,
        messages: c.messages.map((m) => ({ role: m.role, text: m.content, ts: m.createdAt })),
        meta: { a: { b: [1, 'x'] } },
        created: c.createdAt,
        updated: c.updatedAt,
        v: 3,
      });
      expect(doc!.created).toBeInstanceOf(Date);
      for (const m of doc!.messages) expect(m.ts).toBeInstanceOf(Date);
    });

    it('never replaces a higher version', async () => {
      const c = sampleConversation({ id: hex(2), version: 5, title: 'five' });
      await legacy.putIfNewer(c);
      expect(await legacy.putIfNewer({ ...c, version: 4, title: 'four' })).toBe('stale');
      expect(await legacy.putIfNewer({ ...c, version: 5, title: 'other five' })).toBe('stale');
      expect((await legacy.get(c.id))!.title).toBe('five');
      expect(await legacy.putIfNewer({ ...c, version: 6, title: 'six' })).toBe('written');
      expect((await legacy.get(c.id))!.title).toBe('six');
      expect(await legacy.compareAndSet({ ...c, version: 7 }, 5)).toBe(false);
      expect(await legacy.compareAndSet({ ...c, version: 7, title: 'seven' }, 6)).toBe(true);
    });

    it('treats a missing v as version 0', async () => {
      const id = hex(3);
      await raw().insertOne({ _id: new ObjectId(id), userId: 'old', created: '2019-01-01T00:00:00Z', messages: [] });
      expect((await legacy.get(id))!.version).toBe(0);
      expect(await legacy.compareAndSet(sampleConversation({ id, version: 1 }), 0)).toBe(true);
      expect((await raw().findOne({ _id: new ObjectId(id) }))!.v).toBe(1);
    });

    it('soft deletes with a version guard', async () => {
      const c = sampleConversation({ id: hex(4), version: 2 });
      await legacy.putIfNewer(c);
      const at = new Date('2030-01-01T00:00:00.000Z');
      expect(await legacy.softDelete(c.id, 2, at)).toBe('stale');
      expect(await legacy.softDelete(c.id, 3, at)).toBe('written');
      expect(await legacy.softDelete(hex(999), 3, at)).toBe('absent');
      const doc = await raw().findOne({ _id: new ObjectId(c.id) });
      expect(doc).toMatchObject({ deleted: true, v: 3, updated: at });
      expect((await legacy.get(c.id))!.deleted).toBe(true);
    });

    it('scans by _id in batches from a key, and by updated from a watermark', async () => {
      await raw().deleteMany({});
      const docs = Array.from({ length: 25 }, (_, i) => ({
        _id: new ObjectId(hex(100 + i)),
        user_id: 'u',
        created: new Date(0),
        updated: new Date(1_000 + Math.floor(i / 5) * 1000), // five documents share each timestamp
        v: 1,
      }));
      await raw().insertMany([...docs].reverse());
      const seen: string[] = [];
      let after: string | undefined;
      for (;;) {
        const batch = await legacy.scanById(7, after);
        if (batch.length === 0) break;
        seen.push(...batch.map((d) => String(d._id)));
        after = String(batch[batch.length - 1]._id);
      }
      expect(seen).toEqual(docs.map((d) => d._id.toHexString()));
      expect((await legacy.scanById(100, hex(104), hex(106))).map((d) => String(d._id))).toEqual([hex(105), hex(106)]);

      const byUpdated: string[] = [];
      let since = { updated: new Date(0), id: undefined as string | undefined };
      for (;;) {
        const batch = await legacy.scanByUpdated(4, since);
        if (batch.length === 0) break;
        byUpdated.push(...batch.map((d) => String(d._id)));
        const last = batch[batch.length - 1];
        since = { updated: last.updated as Date, id: String(last._id) };
      }
      expect(byUpdated).toEqual(docs.map((d) => d._id.toHexString()));
      expect(await legacy.scanByUpdated(100, { updated: new Date(4000) })).toHaveLength(5);
    });

    it('creates the indexes it needs at start-up', async () => {
      const names = (await raw().indexes()).map((i) => i.name);
      expect(names).toEqual(expect.arrayContaining(['updated_id', 'user_created_id']));
    });

    it('reports an unreadable document with its reason instead of guessing', async () => {
      const id = hex(5);
      await raw().insertOne({ _id: new ObjectId(id), created: new Date(), messages: [{ role: 'user', ts: new Date() }] });
      await expect(legacy.get(id)).rejects.toBeInstanceOf(UnreadableDocumentError);
      await expect(legacy.get(id)).rejects.toMatchObject({ code: 'UNREADABLE_DOCUMENT', id });
    });
  });

  describe('shaped writes (an append writes one message, a patch the header)', () => {
    const appended = (c: Conversation, content: string): Conversation => ({
      ...c,
      messages: [...c.messages, { role: 'user', content, createdAt: new Date(c.updatedAt.getTime() + 1000) }],
      updatedAt: new Date(c.updatedAt.getTime() + 1000),
      version: c.version + 1,
    });

    for (const name of ['legacy', 'new'] as const) {
      const store = () => (name === 'legacy' ? legacy : pg);

      it(`${name}: appends and changes the header under the version guard, equal in canonical form to the whole write`, async () => {
        const c = sampleConversation({ id: hex(name === 'legacy' ? 40 : 41), version: 2 });
        expect(await store().insertNew(c)).toBe(true);
        const a = appended(c, 'one more');
        expect(await store().update(a, 1, 'append')).toBe(false);
        expect(await store().update(a, 2, 'append')).toBe(true);
        expect(await store().update(appended(a, 'again'), 2, 'append')).toBe(false);
        expect(canonical((await store().get(c.id))!)).toEqual(canonical(a));
        const h = { ...a, title: null, metadata: { renamed: true }, version: 4, updatedAt: new Date(a.updatedAt.getTime() + 1) };
        expect(await store().update(h, 3, 'header')).toBe(true);
        expect(canonical((await store().get(c.id))!)).toEqual(canonical(h));
        const d = { ...h, deleted: true, version: 5 };
        expect(await store().update(d, 4, 'header')).toBe(true);
        expect(canonical((await store().get(c.id))!)).toEqual(canonical(d));
      });
    }

    it('new: an append also needs the message count it was made from (no row is ever skipped or doubled)', async () => {
      const c = sampleConversation({ id: hex(42), version: 2 });
      await pg.insertNew(c);
      const wrong = {
        ...appended(c, 'x'),
        messages: [...appended(c, 'x').messages, { role: 'user' as const, content: 'y', createdAt: new Date() }],
      };
      expect(await pg.update(wrong, 2, 'append')).toBe(false);
      expect(await pg.update({ ...c, version: 3, title: 'other' }, 2, 'header')).toBe(true);
      const [{ n }] = await ds.query('SELECT count(*)::int AS n FROM messages WHERE conversation_id = $1', [c.id]);
      expect(n).toBe(c.messages.length);
    });

    it('legacy: the first write of a document in an old format rewrites it whole in the current format; later appends push', async () => {
      const id = hex(43);
      await raw().insertOne({
        _id: new ObjectId(id),
        userId: 'old-user',
        created: '2019-01-01T00:00:00+01:00',
        messages: [{ role: 'USER', content: 'hi', ts: 1546297200000 }],
      });
      const before = (await legacy.get(id))!;
      const a = appended(before, 'new text');
      expect(await legacy.update(a, 0, 'append')).toBe(true);
      expectCurrentLegacyFormat(await raw().findOne({ _id: new ObjectId(id) }));
      expect(canonical((await legacy.get(id))!)).toEqual(canonical(a));
      // Several follow-ups as one write: two pushed messages on the version the first was made from.
      const b = appended(appended(a, 'two'), 'three');
      expect(await legacy.update(b, 2, 'append', 2)).toBe(false);
      expect(await legacy.update(b, 1, 'append', 2)).toBe(true);
      const doc = await raw().findOne({ _id: new ObjectId(id) });
      expectCurrentLegacyFormat(doc);
      expect(canonical(fromLegacy(doc!))).toEqual(canonical(b));
    });

    it('legacy: a change from a version this process has not seen in the current format is written whole', async () => {
      const c = sampleConversation({ id: hex(45), version: 2 });
      await legacy.insertNew(c);
      // Another writer (the legacy application) moves it on in an old format: no change may be pushed onto that.
      await raw().updateOne({ _id: new ObjectId(c.id) }, { $set: { v: 3, 'messages.0.role': 'USER' } });
      const a = appended({ ...c, version: 3 }, 'mine');
      expect(await legacy.update(a, 3, 'append')).toBe(true);
      expectCurrentLegacyFormat(await raw().findOne({ _id: new ObjectId(c.id) }));
      expect(canonical((await legacy.get(c.id))!)).toEqual(canonical(a));
    });

    it('legacy: writeMany lands each guarded write on its own and says which did, in one request', async () => {
      const [fresh, taken, ahead, behind, oldFormat] = [46, 47, 48, 49, 50].map((n) => sampleConversation({ id: hex(n), version: 1 }));
      for (const c of [taken, ahead, behind]) await legacy.insertNew(c);
      await raw().insertOne({ _id: new ObjectId(oldFormat.id), userId: 'old-user', created: '2019-01-01T00:00:00+01:00', messages: [] });
      // Another writer moved `ahead` on: the change made from version 1 must not land on it.
      await raw().updateOne({ _id: new ObjectId(ahead.id) }, { $set: { v: 2 } });
      const refused = { ...sampleConversation({ id: hex(51), version: 1 }), metadata: { grid: [[1, 2]] } };
      const commands: string[] = [];
      const listen = (e: { commandName: string }) => commands.push(e.commandName);
      const watched = await MongoClient.connect(dbs.legacyUrl, { monitorCommands: true });
      watched.on('commandStarted', listen);
      try {
        const store = new MongoLegacyStore(watched.db(dbs.legacyDbName), 'conversations');
        await store.get(behind.id); // this process has seen `behind` in the current format: its change is pushed
        commands.length = 0;
        const out = await store.writeMany([
          { kind: 'insert', c: fresh },
          { kind: 'insert', c: taken },
          { kind: 'update', c: appended(ahead, 'lost race'), from: 1, shape: 'append', appended: 1 },
          { kind: 'update', c: appended(behind, 'pushed'), from: 1, shape: 'append', appended: 1 },
          { kind: 'update', c: { ...appended({ ...oldFormat, version: 0 }, 'whole') }, from: 0, shape: 'append', appended: 1 },
          { kind: 'insert', c: refused },
        ]);
        const refusedHere = hasNestedArray(refused.metadata) && (await mongo.db('admin').command({ buildInfo: 1 })).ferretdbVersion;
        expect(out.slice(0, 5)).toEqual([true, false, false, true, true]);
        if (refusedHere) expect(out[5]).toBeInstanceOf(Error);
        else expect(out[5]).toBe(true);
        // One insert and one update request, plus the read-back of versions because one update did not match.
        expect(commands).toEqual(['insert', 'update', 'find']);
      } finally {
        await watched.close();
      }
      expect(canonical((await legacy.get(fresh.id))!)).toEqual(canonical(fresh));
      expect((await legacy.get(ahead.id))!.version).toBe(2);
      expect((await legacy.get(ahead.id))!.messages).toHaveLength(ahead.messages.length);
      expect(canonical((await legacy.get(behind.id))!)).toEqual(canonical(appended(behind, 'pushed')));
      const whole = await raw().findOne({ _id: new ObjectId(oldFormat.id) });
      expectCurrentLegacyFormat(whole);
      expect(whole!.v).toBe(1);
      expect(await legacy.writeMany([])).toEqual([]);
    });

    it('new: follows a write by its change when one behind, in full when further behind, never when ahead', async () => {
      const c = sampleConversation({ id: hex(44), version: 2 });
      await pg.insertNew(c);
      const a = appended(c, 'a');
      expect(await pg.follow(a, 2, 'append')).toBe('written');
      const b = appended(appended(a, 'b'), 'c');
      expect(await pg.follow(b, 4, 'append')).toBe('written');
      expect(canonical((await pg.get(c.id))!)).toEqual(canonical(b));
      expect(await pg.follow(appended(a, 'stale'), 3, 'append')).toBe('stale');
      expect(canonical((await pg.get(c.id))!)).toEqual(canonical(b));
    });

    it('new: a write that records its follow-up writes the outbox row in its own statement, only when it wins', async () => {
      const record = { source: 'new', reason: 'legacy follows the source of truth' } as const;
      const outbox = async (id: string): Promise<string[]> =>
        (await ds.query('SELECT id::text AS id FROM repair_outbox WHERE conversation_id = $1 ORDER BY id', [id])).map(
          (r: { id: string }) => r.id,
        );
      // Statements sent, on a connection that counts them: the write alone, in the caller's transaction.
      const q = ds.createQueryRunner();
      await q.connect();
      const sent: string[] = [];
      const tx = { query: <T>(sql: string, params?: unknown[]) => (sent.push(sql), q.query(sql, params) as Promise<T>) };
      try {
        await q.startTransaction();
        const c = sampleConversation({ id: hex(45), version: 1 });
        const created = await pg.writeRecorded(c, null, 'replace', record, tx);
        expect(created).toMatch(/^\d+$/);
        expect(await pg.writeRecorded(c, null, 'replace', record, tx)).toBeNull(); // the id exists: lost

        const a = appended(c, 'one more');
        sent.length = 0;
        const pushed = await pg.writeRecorded(a, 1, 'append', record, tx);
        expect(sent).toHaveLength(1);
        expect(await pg.writeRecorded(appended(a, 'stale'), 1, 'append', record, tx)).toBeNull();
        const h = { ...a, title: 'renamed', version: 3, updatedAt: new Date(a.updatedAt.getTime() + 1) };
        sent.length = 0;
        const patched = await pg.writeRecorded(h, 2, 'header', record, tx);
        expect(sent).toHaveLength(1);
        expect(await pg.writeRecorded({ ...h, version: 4 }, 2, 'header', record, tx)).toBeNull();
        const r = { ...h, messages: h.messages.slice(1), version: 4 };
        const replaced = await pg.writeRecorded(r, 3, 'replace', record, tx);
        await q.commitTransaction();

        expect(await outbox(c.id)).toEqual([created, pushed, patched, replaced]);
        expect(canonical((await pg.get(c.id))!)).toEqual(canonical(r));
        const [row] = await ds.query('SELECT source, reason FROM repair_outbox WHERE id = $1', [pushed]);
        expect(row).toEqual({ source: 'new', reason: record.reason });
      } finally {
        if (q.isTransactionActive) await q.rollbackTransaction();
        await q.release();
      }
    });
  });

  describe('new store', () => {
    it('round-trips generated conversations through PostgreSQL rows in canonical form', async () => {
      await fc.assert(
        fc.asyncProperty(arbConversation({ maxMessages: 6 }), async (c: Conversation) => {
          await ds.query('DELETE FROM conversations WHERE id = $1 OR user_id = $2', [c.id, c.userId]);
          expect(await pg.putIfNewer(c)).toBe('written');
          expect(canonical((await pg.get(c.id))!)).toEqual(canonical(c));
          // The readers of many conversations read the same.
          expect((await pg.getMany([c.id])).map(canonical)).toEqual([canonical(c)]);
          if (!c.deleted) expect((await pg.listByUser(c.userId, 1)).map(canonical)).toEqual([canonical(c)]);
        }),
        { numRuns: 60, seed: 20261126 },
      );
    });

    it('round-trips generated conversations through the legacy store in canonical form', async () => {
      await fc.assert(
        fc.asyncProperty(
          arbConversation({ maxMessages: 6 }).filter((c) => !hasNestedArray(c.metadata)),
          async (c: Conversation) => {
            await raw().deleteOne({ _id: new ObjectId(c.id) });
            expect(await legacy.putIfNewer(c)).toBe('written');
            const doc = await raw().findOne({ _id: new ObjectId(c.id) });
            expect(canonical(fromLegacy(doc!))).toEqual(canonical(c));
          },
        ),
        { numRuns: 60, seed: 20261126 },
      );
    });

    it('writes the same rows through COPY staging as row by row, in canonical form (generated conversations)', async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(arbConversation({ maxMessages: 6 }), { minLength: 1, maxLength: 6 }), async (cs: Conversation[]) => {
          const unique = [...new Map(cs.map((c) => [c.id, c])).values()];
          await ds.query('DELETE FROM conversations WHERE id = ANY($1::char(24)[])', [unique.map((c) => c.id)]);
          const written = await pg.transaction((q) => pg.putManyStaged(unique, q));
          expect(written.sort()).toEqual(unique.map((c) => c.id).sort());
          for (const c of unique) expect(canonical((await pg.get(c.id))!)).toEqual(canonical(c));
        }),
        { numRuns: 40, seed: 20261204 },
      );
    });

    it('staged: guards on the version, and makes the messages of an updated conversation exactly the new ones', async () => {
      const text = 'tab\there, new\nline, back\\slash, \r, 日本語 🚀';
      const a = sampleConversation({ id: hex(20), version: 3, title: text, metadata: { k: text, n: [1, 'a\\b'] } });
      const b = sampleConversation({ id: hex(21), version: 2 });
      expect((await pg.transaction((q) => pg.putManyStaged([a, b], q))).sort()).toEqual([a.id, b.id]);
      const older = { ...a, version: 2, title: 'older' };
      const shorter = { ...b, version: 5, messages: [{ ...b.messages[0], content: `changed ${text}` }] };
      const longer = { ...a, version: 4, messages: [...a.messages, { role: 'tool' as const, content: text, createdAt: new Date(7) }] };
      expect(await pg.transaction((q) => pg.putManyStaged([older, shorter], q))).toEqual([b.id]);
      expect(canonical((await pg.get(a.id))!)).toEqual(canonical(a));
      expect(canonical((await pg.get(b.id))!)).toEqual(canonical(shorter));
      expect(await pg.transaction((q) => pg.putManyStaged([longer], q))).toEqual([a.id]);
      expect(canonical((await pg.get(a.id))!)).toEqual(canonical(longer));
      const [{ n }] = await ds.query('SELECT count(*)::int AS n FROM messages WHERE conversation_id = $1', [b.id]);
      expect(n).toBe(1);
    });

    it('only moves versions forward and keeps messages in order', async () => {
      const c = sampleConversation({ id: hex(10), version: 2 });
      expect(await pg.putIfNewer(c)).toBe('written');
      expect(await pg.putIfNewer({ ...c, version: 1, title: 'old' })).toBe('stale');
      const longer = { ...c, version: 3, messages: [...c.messages, { role: 'tool' as const, content: 'x', createdAt: new Date(5) }] };
      expect(await pg.compareAndSet(longer, 2)).toBe(true);
      expect(await pg.compareAndSet({ ...longer, version: 4 }, 2)).toBe(false);
      const shorter = { ...longer, version: 4, messages: longer.messages.slice(0, 1) };
      expect(await pg.putIfNewer(shorter)).toBe('written');
      expect(canonical((await pg.get(c.id))!)).toEqual(canonical(shorter));
      const [{ n }] = await ds.query('SELECT count(*)::int AS n FROM messages WHERE conversation_id = $1', [c.id]);
      expect(n).toBe(1);
    });

    it('a whole write or put that its guard refuses writes none of its messages (one statement: row, then messages)', async () => {
      const c = sampleConversation({ id: hex(11), version: 3 });
      expect(await pg.insertNew(c)).toBe(true);
      const other = (version: number, messages: Conversation['messages']) => ({ ...c, title: 'other', version, messages });
      const fewer = c.messages.slice(0, 1).map((m) => ({ ...m, content: `${m.content} (changed)` }));
      const more = [...c.messages, { role: 'tool' as const, content: 'added', createdAt: new Date(9) }];
      // A create of an id that exists, and replaces on a version that is not the current one (behind, ahead).
      expect(await pg.insertNew(other(1, more))).toBe(false);
      for (const expected of [2, 4]) {
        expect(await pg.compareAndSet(other(expected + 1, fewer), expected)).toBe(false);
        expect(await pg.compareAndSet(other(expected + 1, more), expected)).toBe(false);
      }
      await pg.transaction(async (q) => expect(await pg.compareAndSet(other(4, more), 2, q)).toBe(false));
      // A put that is not newer, alone and in a batch beside one that lands.
      expect(await pg.putIfNewer(other(3, fewer))).toBe('stale');
      const fresh = sampleConversation({ id: hex(12), version: 1 });
      expect(await pg.putMany([other(2, more), fresh])).toEqual([fresh.id]);
      expect(canonical((await pg.get(fresh.id))!)).toEqual(canonical(fresh));
      expect(canonical((await pg.get(c.id))!)).toEqual(canonical(c));
      // The same writes on the current version land whole: fewer messages remove the rows past the end.
      expect(await pg.compareAndSet(other(4, fewer), 3)).toBe(true);
      expect(canonical((await pg.get(c.id))!)).toEqual(canonical(other(4, fewer)));
      const [{ n }] = await ds.query('SELECT count(*)::int AS n FROM messages WHERE conversation_id = $1', [c.id]);
      expect(n).toBe(1);
    });
  });
});
