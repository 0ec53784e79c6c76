/**
 * Idempotency-Key across replicas and across the loss of Redis's data (SPEC section 5), and the takeover
 * of an abandoned claim: two API replicas (the test's app and a process of its own) on one set of stores; keys live in
 * PostgreSQL.
 * - a retried create on the other replica after Redis was flushed: the first response, nothing written;
 * - a first attempt that landed in legacy and died before its commit (planted as the crash leaves it: the
 *   write in the legacy store, the key pending with its attempt record, its lease over): the retry answers
 *   with what landed instead of writing again, for a create and for an append;
 * - a keyed append stores the write it made (not its growing body), and its replay on either replica gives the first
 *   response again after later writes, a flip of the source of truth and a delete; one it cannot rebuild is a 409;
 * - keys expire after 24 h: an expired key is a new key, and the sweeper deletes expired rows by index.
 */
import { createHash } from 'node:crypto';
import Redis from 'ioredis';
import { ObjectId } from 'mongodb';
import { IdempotencyService, messageSha256 } from '../src/conversations/idempotency.service';
import { startTestApp, TestApp } from './support/app';
import { isolatedRedis } from './support/env';
import { Replicas, startReplicas } from './support/replicas';
import { expectErrorShape, legacyCollection, snapshotStores } from './support/stores';

let a: TestApp;
let b: Replicas;

beforeAll(async () => {
  a = await startTestApp({ ...isolatedRedis() });
  // A second replica: its own process, pools and caches, on the same stores and Redis.
  b = await startReplicas(a, 'idempotency-durable');
}, 120_000);
afterAll(async () => {
  await b?.stop();
  await a?.close();
}, 60_000);

async function onB(method: string, path: string, body: unknown, headers: Record<string, string>) {
  return b.request(1, method, path, { body, headers });
}

const keyHash = (path: string, key: string) => createHash('sha256').update(`tests POST ${path}\n${key}`).digest('hex');
const fingerprint = (body: unknown) => createHash('sha256').update(JSON.stringify(body)).digest('hex');

/** The row a first attempt leaves when its process dies after its legacy write, before its commit. */
async function plantAbandonedClaim(path: string, key: string, body: unknown, attempt: unknown): Promise<void> {
  await a.pg.query(
    `INSERT INTO idempotency_keys (key_hash, fingerprint, state, claim_token, lease_until, attempt, expires_at)
     VALUES ($1, $2, 'pending', gen_random_uuid(), now() - interval '1 second', $3, now() + interval '1 day')`,
    [keyHash(path, key), fingerprint(body), JSON.stringify(attempt)],
  );
}

/**
 * What a keyed append leaves when its process dies after its legacy write, before its commit: the message at index
 * 1 of a conversation at version 1 (legacy now at version 2, at `at`), and the key pending with that attempt.
 * `header`: the header the attempt recorded (records made before the header was recorded have none).
 */
async function plantLandedAppend(
  id: string,
  key: string,
  message: { role: string; content: string },
  at: Date,
  header: { title?: string | null; metadata?: Record<string, never> } = {},
): Promise<string> {
  await legacyCollection(a).updateOne(
    { _id: new ObjectId(id), v: 1 },
    { $push: { messages: { role: message.role, text: message.content, ts: at } } as never, $set: { v: 2, updated: at } },
  );
  const path = `/conversations/${id}/messages`;
  await plantAbandonedClaim(path, key, message, {
    kind: 'append',
    id,
    baseVersion: 1,
    index: 1,
    role: message.role,
    contentSha256: messageSha256(message.content),
    at: at.toISOString(),
    ...header,
  });
  return path;
}

describe('Idempotency-Key held in PostgreSQL', () => {
  it('a create retried on another replica after Redis lost its data: the first response, one conversation', async () => {
    await a.setPhase('shadow');
    const body = { userId: 'idem-durable', title: 'once' };
    const headers = { 'idempotency-key': `durable-${Date.now()}` };
    const first = await a.request('POST', '/conversations', { body, headers });
    expect(first.status).toBe(201);
    const before = await snapshotStores(a);

    const redis = new Redis(a.config.redis.url);
    await redis.flushdb();
    redis.disconnect();

    const retried = await onB('POST', '/conversations', body, headers);
    expect(retried.status).toBe(201);
    expect(retried.body).toEqual(first.body);
    expect(retried.headers.get('idempotent-replayed')).toBe('true');
    expect(await snapshotStores(a)).toEqual(before);
  });

  it('takes over a create whose first attempt landed and died: the conversation it made, not a second one', async () => {
    await a.setPhase('shadow');
    const body = { userId: 'idem-takeover', title: 'landed before the crash' };
    const key = `takeover-create-${Date.now()}`;
    const id = new ObjectId();
    const now = new Date();
    await legacyCollection(a).insertOne({
      _id: id,
      user_id: body.userId,
      title: body.title,
      messages: [],
      meta: {},
      created: now,
      updated: now,
      v: 1,
    });
    await plantAbandonedClaim('/conversations', key, body, { kind: 'create', id: id.toHexString() });
    const before = await snapshotStores(a);

    const res = await onB('POST', '/conversations', body, { 'idempotency-key': key });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ id: id.toHexString(), title: body.title, version: 1 });
    const after = await snapshotStores(a);
    expect(after.legacyDocuments).toBe(before.legacyDocuments);
    // And the key now holds that answer.
    expect((await a.request('POST', '/conversations', { body, headers: { 'idempotency-key': key } })).body).toEqual(res.body);
  });

  it('takes over an append whose first attempt landed and died: the message once, not twice', async () => {
    await a.setPhase('shadow');
    const created = await a.request('POST', '/conversations', {
      body: { userId: 'idem-append', messages: [{ role: 'user', content: 'first' }] },
    });
    const id: string = created.body.id;
    const message = { role: 'user', content: 'landed before the crash' };
    const key = `takeover-append-${Date.now()}`;
    const at = new Date(Date.now() + 5);
    const path = await plantLandedAppend(id, key, message, at);

    const res = await onB('POST', path, message, { 'idempotency-key': key });
    expect(res.status).toBe(201);
    expect(res.body.version).toBe(2);
    expect(res.body.messages.map((m: { content: string }) => m.content)).toEqual(['first', 'landed before the crash']);
    const doc = await legacyCollection(a).findOne({ _id: new ObjectId(id) });
    expect(doc!.messages).toHaveLength(2);
  });

  it('answers a takeover with what the landed attempt wrote, not with what was written after it', async () => {
    await a.setPhase('shadow');
    const created = await a.request('POST', '/conversations', {
      body: { userId: 'idem-append-later', title: 'before', messages: [{ role: 'user', content: 'first' }] },
    });
    const id: string = created.body.id;
    const message = { role: 'user', content: 'landed, then others wrote' };
    const key = `takeover-later-${Date.now()}`;
    const at = new Date(Date.now() + 5);
    const path = await plantLandedAppend(id, key, message, at, { title: 'before', metadata: {} });
    // Others write before the retry comes: an append (version 3) and a new title (version 4).
    expect((await a.request('POST', path, { body: { role: 'assistant', content: 'later' } })).body.version).toBe(3);
    expect((await a.request('PATCH', `/conversations/${id}`, { body: { title: 'after' } })).body.version).toBe(4);

    const res = await onB('POST', path, message, { 'idempotency-key': key });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ id, title: 'before', version: 2, updatedAt: at.toISOString() });
    expect(res.body.messages.map((m: { content: string }) => m.content)).toEqual(['first', 'landed, then others wrote']);
    expect(res.headers.get('etag')).toBe('"2"');
    // Nothing written again, and the key holds that answer.
    const doc = await legacyCollection(a).findOne({ _id: new ObjectId(id) });
    expect(doc).toMatchObject({ v: 4, title: 'after' });
    expect(doc!.messages).toHaveLength(3);
    expect((await a.request('POST', path, { body: message, headers: { 'idempotency-key': key } })).body).toEqual(res.body);
  });

  it('answers a takeover of a create with the conversation it made, also after others wrote to it', async () => {
    await a.setPhase('shadow');
    const body = { userId: 'idem-create-later', title: 'made once', messages: [{ role: 'user' as const, content: 'hello' }] };
    const key = `takeover-create-later-${Date.now()}`;
    const id = new ObjectId();
    const made = new Date(Date.now() - 1000);
    await legacyCollection(a).insertOne({
      _id: id,
      user_id: body.userId,
      title: body.title,
      messages: [{ role: 'user', text: 'hello', ts: made }],
      meta: {},
      created: made,
      updated: made,
      v: 1,
    });
    await plantAbandonedClaim('/conversations', key, body, { kind: 'create', id: id.toHexString() });
    expect((await a.request('PATCH', `/conversations/${id.toHexString()}`, { body: { title: 'renamed' } })).body.version).toBe(2);

    const res = await onB('POST', '/conversations', body, { 'idempotency-key': key });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ id: id.toHexString(), title: 'made once', version: 1, createdAt: made.toISOString() });
    expect(res.body.messages).toEqual([{ role: 'user', content: 'hello', createdAt: made.toISOString() }]);
    expect(await legacyCollection(a).countDocuments({ user_id: body.userId })).toBe(1);
  });

  it('an attempt that did not land is made by the retry, once', async () => {
    await a.setPhase('deprecation');
    const created = await a.request('POST', '/conversations', { body: { userId: 'idem-not-landed' } });
    const id: string = created.body.id;
    const message = { role: 'assistant', content: 'never landed' };
    const key = `not-landed-${Date.now()}`;
    const path = `/conversations/${id}/messages`;
    await plantAbandonedClaim(path, key, message, {
      kind: 'append',
      id,
      baseVersion: 1,
      index: 0,
      role: 'assistant',
      contentSha256: messageSha256(message.content),
      at: new Date().toISOString(),
    });
    const res = await onB('POST', path, message, { 'idempotency-key': key });
    expect(res.status).toBe(201);
    expect(res.body.messages.map((m: { content: string }) => m.content)).toEqual(['never landed']);
    const again = await a.request('POST', path, { body: message, headers: { 'idempotency-key': key } });
    expect(again.body).toEqual(res.body);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
  });

  it('stores a keyed append as the write it made, and replays its first response after later writes, a flip and a delete', async () => {
    await a.setPhase('rollout');
    const messages = Array.from({ length: 200 }, (_, i) => ({ role: 'user', content: `${i} `.padEnd(2000, 'x') }));
    const created = await a.request('POST', '/conversations', { body: { userId: 'idem-long', title: 'long', messages } });
    const id: string = created.body.id;
    const path = `/conversations/${id}/messages`;
    const message = { role: 'assistant', content: 'answered once' };
    const headers = { 'idempotency-key': `long-${Date.now()}` };
    const first = await a.request('POST', path, { body: message, headers });
    expect(first.status).toBe(201);
    expect(JSON.stringify(first.body).length).toBeGreaterThan(400_000);
    const { rows } = await a.pg.query(
      `SELECT octet_length(response::text) AS bytes, response ? 'status' AS has_status FROM idempotency_keys WHERE key_hash = $1`,
      [keyHash(path, headers['idempotency-key'])],
    );
    expect(rows[0].bytes).toBeLessThan(1000);
    // No `status`: a replica of an earlier release fails this replay (5xx, retried) rather than answer an empty body.
    expect(rows[0].has_status).toBe(false);

    expect((await onB('POST', path, { role: 'user', content: 'later' }, {})).status).toBe(201);
    expect((await onB('PATCH', `/conversations/${id}`, { title: 'renamed', metadata: { later: true } }, {})).status).toBe(200);
    const replay = async (via: 'a' | 'b') => {
      const res = via === 'a' ? await a.request('POST', path, { body: message, headers }) : await onB('POST', path, message, headers);
      expect(res.status).toBe(201);
      expect(res.headers.get('idempotent-replayed')).toBe('true');
      expect(res.headers.get('etag')).toBe(first.headers.get('etag'));
      expect(res.body).toEqual(first.body);
    };
    await replay('b');
    // The new store is the source of truth now: the replay is rebuilt from it.
    await a.setPhase('deprecation');
    await replay('b');
    expect((await a.request('DELETE', `/conversations/${id}`)).status).toBe(204);
    await replay('a');
    const before = await snapshotStores(a);
    await replay('b');
    expect(await snapshotStores(a)).toEqual(before);
  });

  it('refuses a replay it cannot rebuild (the message rewritten where it was written), writing nothing', async () => {
    await a.setPhase('deprecation');
    const created = await a.request('POST', '/conversations', { body: { userId: 'idem-rewritten' } });
    const id: string = created.body.id;
    const path = `/conversations/${id}/messages`;
    const message = { role: 'user', content: 'as sent' };
    const headers = { 'idempotency-key': `rewritten-${Date.now()}` };
    expect((await a.request('POST', path, { body: message, headers })).status).toBe(201);
    await a.pg.query(`UPDATE messages SET content = 'rewritten elsewhere' WHERE conversation_id = $1 AND seq = 0`, [id]);
    const before = await snapshotStores(a);
    const res = await onB('POST', path, message, headers);
    expectErrorShape(res, 409, 'IDEMPOTENT_RESPONSE_UNAVAILABLE');
    expect(await snapshotStores(a)).toEqual(before);
  });

  it('expires keys after 24 h: an expired key is new again, and the sweeper deletes expired rows', async () => {
    await a.setPhase('shadow');
    const key = `expiring-${Date.now()}`;
    const first = await a.request('POST', '/conversations', {
      body: { userId: 'idem-expiry', title: 'a' },
      headers: { 'idempotency-key': key },
    });
    expect(first.status).toBe(201);
    await a.pg.query(`UPDATE idempotency_keys SET expires_at = now() - interval '1 second' WHERE key_hash = $1`, [
      keyHash('/conversations', key),
    ]);
    // Expired: another body is no longer "the same key reused", it is a new request.
    const second = await a.request('POST', '/conversations', {
      body: { userId: 'idem-expiry', title: 'b' },
      headers: { 'idempotency-key': key },
    });
    expect(second.status).toBe(201);
    expect(second.body.id).not.toBe(first.body.id);
    await a.pg.query(`UPDATE idempotency_keys SET expires_at = now() - interval '1 second' WHERE key_hash = $1`, [
      keyHash('/conversations', key),
    ]);
    const swept = await a.app.get(IdempotencyService).sweepExpired();
    expect(swept).toBeGreaterThanOrEqual(1);
    expect((await a.pg.query('SELECT count(*)::int AS n FROM idempotency_keys WHERE expires_at <= now()')).rows[0].n).toBe(0);
  });
});
