/**
 * Legacy's word is a majority's (src/stores/mongo/legacy-concerns.ts): every write the deployment sends to legacy
 * asks for a journaled majority and every read a majority's view, and a write whose majority did not confirm in
 * time is never taken as done. Two API replicas and a worker as processes on private servers, their legacy
 * connection through a proxy that speaks MongoDB's wire protocol (support/mongo-fault-proxy.ts): it records each
 * command's concerns, and on demand answers every write the server took with a write concern error, as a primary
 * does when its majority does not confirm within `wtimeout` (the dev server has no replicas and ignores concerns).
 *
 * - While legacy is the source of truth such a write is answered 503, never 201 (a failover could still roll it
 *   back); a keyed retry after it answers what landed, with the message once; the new store catches up.
 * - In deprecation every write is still acknowledged (legacy is not the source of truth); a batch of follow-ups
 *   that legacy did not confirm is not taken as written; legacy ends equal to the new store.
 * - An entry of legacy's own outbox (repairs recorded while PostgreSQL was down) whose removal legacy did not confirm
 *   is delivered, not lost.
 *
 * What the dev server cannot show: that a majority read does not see such a write (it ignores read concerns, so a
 * repair that reads legacy back finds the write there and settles its follow-up, as it would on MongoDB only once
 * the majority has it).
 */
import { randomUUID } from 'node:crypto';
import { MongoClient } from 'mongodb';
import { canonicalJson } from '../src/model/canonical';
import { MongoRepairOutbox } from '../src/repair/repair-outbox';
import { closeLegacy, connectLegacy, MongoLegacyStore } from '../src/stores/mongo/mongo-legacy.store';
import { PostgresConversationStore } from '../src/stores/postgres/postgres-conversation.store';
import { APP_TOKEN } from './support/env';
import { expectLegacyCaughtUp, startWriters } from './support/follow-ups';
import { advanceTo, completeBackfill } from './support/history/operator';
import { MongoFaultProxy, startMongoFaultProxy } from './support/mongo-fault-proxy';
import { PrivateCluster, startPrivateCluster } from './support/private-cluster';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('legacy writes ask a journaled majority, and one a majority did not confirm is never taken as done', () => {
  let rig: PrivateCluster;
  let proxy: MongoFaultProxy;
  let mongo: MongoClient;
  let legacy: MongoLegacyStore;
  let pg: PostgresConversationStore;

  beforeAll(async () => {
    rig = await startPrivateCluster('legacy-write-concern', async (services) => {
      const url = services.env.LEGACY_MONGO_URL;
      proxy = await startMongoFaultProxy({ host: '127.0.0.1', port: Number(new URL(url).port) });
      return { MIGRATION_INITIAL_PHASE: 'rollout', LEGACY_MONGO_URL: proxy.urlFor(url) };
    });
    // The test reads legacy directly, not through the proxy.
    const url = rig.services.env.LEGACY_MONGO_URL;
    mongo = await MongoClient.connect(url, { serverSelectionTimeoutMS: 5000 });
    legacy = new MongoLegacyStore(mongo.db(new URL(url).pathname.slice(1)), 'conversations');
    pg = new PostgresConversationStore(rig.ds);
    // The historical sync, which the flip into deprecation needs (force cannot pass it).
    await completeBackfill(rig.cluster);
  }, 240_000);

  afterAll(async () => {
    await mongo?.close().catch(() => undefined);
    await rig?.close();
    await proxy?.close();
  }, 120_000);

  const call = (replica: number, method: string, p: string, body?: unknown) => rig.cluster.request(replica, method, p, body);
  const keyedAppend = async (replica: number, id: string, content: string, key: string) => {
    const res = await fetch(`${rig.cluster.replicas[replica].url}/conversations/${id}/messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${APP_TOKEN}`, 'content-type': 'application/json', 'idempotency-key': key },
      body: JSON.stringify({ role: 'user', content }),
      signal: AbortSignal.timeout(20_000),
    });
    return { status: res.status, body: (await res.json()) as any };
  };
  /** Until the new store equals legacy for `id`, in canonical form. */
  const newStoreCaughtUp = async (id: string) => {
    for (const deadline = Date.now() + 60_000; ; await sleep(250)) {
      const [l, p] = await Promise.all([legacy.get(id), pg.get(id)]);
      if (l && p && canonicalJson(l) === canonicalJson(p)) return l;
      if (Date.now() > deadline) throw new Error(`the new store did not catch up with legacy for ${id}`);
    }
  };

  it('every write any process sends to legacy asks for a journaled majority, with a bound on the wait', async () => {
    const created = await call(0, 'POST', '/conversations', {
      userId: 'wc-user',
      title: 'majority',
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(created.status).toBe(201);
    expect((await call(1, 'POST', `/conversations/${created.body.id}/messages`, { role: 'assistant', content: 'hello' })).status).toBe(201);
    expect((await call(0, 'PATCH', `/conversations/${created.body.id}`, { title: 'renamed' })).status).toBe(200);
    expect((await call(1, 'GET', `/conversations/${created.body.id}`)).status).toBe(200);
    const writes = new Set(proxy.writes.map((w) => w.command));
    expect(writes.has('insert') && writes.has('update')).toBe(true);
    for (const w of proxy.writes) expect(w).toMatchObject({ writeConcern: { w: 'majority', j: true, wtimeout: 5000 } });
    const reads = proxy.commands.filter((c) => ['find', 'aggregate', 'count', 'distinct'].includes(c.command));
    expect(reads.length).toBeGreaterThan(0);
    for (const r of reads) expect(r).toMatchObject({ readConcern: { level: 'majority' } });
  });

  it('while legacy is the source of truth, answers 503 for a write a majority did not confirm; a keyed retry answers what landed, once', async () => {
    const created = await call(0, 'POST', '/conversations', { userId: 'wc-user', title: 'unconfirmed' });
    expect(created.status).toBe(201);
    const id: string = created.body.id;
    const key = randomUUID();

    proxy.failWriteConcern = true;
    const doctored = proxy.doctored;
    let answers: Array<{ status: number; body: any }>;
    try {
      answers = [
        await keyedAppend(0, id, 'taken by the primary alone', key),
        await call(1, 'PATCH', `/conversations/${id}`, { metadata: { unconfirmed: true } }),
        await call(0, 'POST', '/conversations', { userId: 'wc-user', title: 'created unconfirmed' }),
      ];
    } finally {
      proxy.failWriteConcern = false;
    }
    expect(proxy.doctored).toBeGreaterThan(doctored);
    expect(answers.map((a) => [a.status, a.body?.code])).toEqual([
      [503, 'STORE_UNAVAILABLE'],
      [503, 'STORE_UNAVAILABLE'],
      [503, 'STORE_UNAVAILABLE'],
    ]);

    // The same request again, through the other replica: what the first attempt wrote, the message once.
    const retried = await keyedAppend(1, id, 'taken by the primary alone', key);
    expect(retried.status).toBe(201);
    expect(retried.body.messages.map((m: { content: string }) => m.content)).toEqual(['taken by the primary alone']);
    const inLegacy = await newStoreCaughtUp(id);
    expect(inLegacy.messages.filter((m) => m.content === 'taken by the primary alone')).toHaveLength(1);
  });

  it('in deprecation, acknowledges every write, takes no unconfirmed follow-up as written, and legacy ends equal', async () => {
    await advanceTo(rig.cluster, 'deprecation');
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) {
      const res = await call(i, 'POST', '/conversations', { userId: 'wc-user', title: `deprecation ${i}` });
      expect(res.status).toBe(201);
      ids.push(res.body.id);
    }
    const rigWithStores = { ...rig, pg, legacy };
    await expectLegacyCaughtUp(rigWithStores, ids, 60_000);

    // What the follow-ups send, a batch through the proxy (LegacyStore.writeMany), and one write alone.
    // The service's own client (connectLegacy: its concerns), through the proxy.
    const viaProxy = await connectLegacy(proxy.urlFor(rig.services.env.LEGACY_MONGO_URL));
    proxy.failWriteConcern = true;
    const doctored = proxy.doctored;
    try {
      const store = new MongoLegacyStore(viaProxy.db(new URL(rig.services.env.LEGACY_MONGO_URL).pathname.slice(1)), 'conversations');
      const current = await Promise.all(ids.slice(0, 3).map(async (id) => (await pg.get(id))!));
      const next = current.map((c) => ({
        ...c,
        title: `${c.title} (batch)`,
        version: c.version + 1,
        updatedAt: new Date(c.updatedAt.getTime() + 1),
      }));
      const landed = await store.writeMany(
        next.map((c, i) => ({ kind: 'update' as const, c, from: current[i].version, shape: 'header' as const, appended: 0 })),
      );
      expect(landed.map((r) => (r instanceof Error ? r.message.replace(/ of \w+:/, ' of <id>:') : r))).toEqual(
        next.map(() => 'legacy did not confirm the write of <id>: waiting for replication timed out (code 64)'),
      );
      const alone = { ...next[0], title: 'alone', version: next[0].version + 1 };
      await expect(store.compareAndSet(alone, next[0].version)).rejects.toMatchObject({ name: 'MongoWriteConcernError', code: 64 });

      // Through the API: every write acknowledged, and their follow-ups meet the same answer.
      const writers = startWriters(rig.cluster, ids, 3, () => true);
      for (const deadline = Date.now() + 20_000; proxy.doctored - doctored < 20 && Date.now() < deadline;) await sleep(200);
      await writers.stop();
      expect(writers.refused).toEqual([]);
      expect(writers.writes).toBeGreaterThan(0);
    } finally {
      proxy.failWriteConcern = false;
      await closeLegacy(viaProxy);
    }
    expect(proxy.doctored - doctored).toBeGreaterThanOrEqual(20);

    // The batch and the lone write did land on the server, as on a primary; the new store is the source of truth, so
    // the repairs put legacy back to it.
    await expectLegacyCaughtUp(rigWithStores, ids, 120_000);
  });

  it("delivers an entry of legacy's own outbox whose removal a majority did not confirm, rather than losing it", async () => {
    const dbName = new URL(rig.services.env.LEGACY_MONGO_URL).pathname.slice(1);
    // The service's own client (connectLegacy: its concerns), through the proxy.
    const viaProxy = await connectLegacy(proxy.urlFor(rig.services.env.LEGACY_MONGO_URL));
    const name = `wc_outbox_${Date.now()}`;
    try {
      const entry = { conversationId: '65a000000000000000000001', source: 'legacy' as const, reason: 'write concern test' };
      await new MongoRepairOutbox(mongo.db(dbName), name).add(entry);
      const delivered: unknown[] = [];
      proxy.failWriteConcern = true;
      try {
        expect(await new MongoRepairOutbox(viaProxy.db(dbName), name).drain(10, async (e) => void delivered.push(e))).toBe(1);
      } finally {
        proxy.failWriteConcern = false;
      }
      expect(delivered).toEqual([entry]);
    } finally {
      await closeLegacy(viaProxy);
    }
  });

  it("reports the delivery's own error when the entry it failed to deliver is back already (its delete rolled back)", async () => {
    const db = mongo.db(new URL(rig.services.env.LEGACY_MONGO_URL).pathname.slice(1));
    const name = `wc_outbox_back_${Date.now()}`;
    const entry = { conversationId: '65a000000000000000000002', source: 'legacy' as const, reason: 'rolled back delete' };
    const outbox = new MongoRepairOutbox(db, name);
    await outbox.add(entry);
    const [stored] = await db.collection(name).find().toArray();
    // The delivery fails after the entry reappeared, as when a failover rolls back the delete that took it.
    const refused = await outbox
      .drain(10, async () => {
        await db.collection(name).insertOne(stored);
        throw new Error('new store unreachable');
      })
      .catch((err: Error) => err);
    expect(refused).toBeInstanceOf(Error);
    expect((refused as Error).message).toBe('new store unreachable');
    expect(await db.collection(name).countDocuments()).toBe(1);
    await db.collection(name).drop();
  });
});
