/**
 * The application endpoints of SPEC section 2 against the real API and real stores, in phase `shadow`
 * (dual writes, legacy the source of truth): every success and every error, the error shape, ETags,
 * Idempotency-Key, pagination, OpenAPI. Every refused request is checked to have written nothing in
 * either store (a snapshot of PostgreSQL `conversations` + `messages` and the legacy collection).
 */
import { ObjectId } from 'mongodb';
import { OPERATOR_TOKEN } from './support/env';
import { RequestOptions, startTestApp, TestApp, TestResponse } from './support/app';
import {
  expectCurrentLegacyFormat,
  expectErrorShape,
  expectFieldErrors,
  expectSameSnapshot,
  expectStoresAgree,
  legacyCollection,
  legacyRaw,
  readBoth,
  snapshotStores,
} from './support/stores';
import type { CanonicalConversation } from '../src/model/canonical';
import { Replicas, startReplicas } from './support/replicas';

const ABSENT_ID = 'aaaaaaaaaaaaaaaaaaaaaaaa';
const ONE_MIB = 1024 * 1024;

let t: TestApp;
let userCounter = 0;
/** A user id no other test uses, so lists are predictable. */
const freshUser = (label = 'user') => `${label}-${process.pid}-${++userCounter}`;

beforeAll(async () => {
  t = await startTestApp();
  await t.setPhase('shadow');
});
afterAll(async () => t?.close());

/** The response body is exactly the stored conversation (minus the deleted flag, which the API never shows). */
function expectBodyIs(body: unknown, c: CanonicalConversation): void {
  const { deleted, ...visible } = c;
  expect(deleted).toBe(false);
  expect(body).toEqual(visible);
}

function expectEtag(res: TestResponse, version: number): void {
  expect(res.headers.get('etag')).toBe(`"${version}"`);
  if (res.body && typeof res.body === 'object' && 'version' in res.body) expect(res.body.version).toBe(version);
}

/**
 * A successful write in phase shadow: the status, the ETag, both stores equal in canonical form, the
 * legacy document in the current format, and the response equal to what is stored.
 */
async function expectWritten(res: TestResponse, status: number, version: number): Promise<CanonicalConversation> {
  expect({ status: res.status, body: res.body }).toEqual({ status, body: res.body });
  expectEtag(res, version);
  expect(res.headers.get('x-request-id')).toBeTruthy();
  const stored = await expectStoresAgree(t, res.body.id);
  expect(stored.version).toBe(version);
  expectCurrentLegacyFormat(await legacyRaw(t, res.body.id));
  expectBodyIs(res.body, stored);
  return stored;
}

/** Sends a request that must be refused: the SPEC error shape with `status`/`code`, and both stores untouched. */
async function refused(method: string, path: string, options: RequestOptions, status: number, code?: string): Promise<Record<string, any>> {
  const before = await snapshotStores(t);
  const res = await t.request(method, path, options);
  const body = expectErrorShape(res, status, code);
  expectSameSnapshot(await snapshotStores(t), before);
  return body;
}

async function refusedWithFields(method: string, path: string, options: RequestOptions, fields: string[]): Promise<void> {
  const before = await snapshotStores(t);
  const res = await t.request(method, path, options);
  expectFieldErrors(res, fields);
  expectSameSnapshot(await snapshotStores(t), before);
}

async function create(body: Record<string, unknown> = { userId: freshUser() }): Promise<TestResponse> {
  const res = await t.request('POST', '/conversations', { body });
  expect({ status: res.status, body: res.body }).toEqual({ status: 201, body: res.body });
  return res;
}

const json = (text: string | Buffer, headers: Record<string, string> = {}): RequestOptions => ({
  rawBody: text,
  headers: { 'content-type': 'application/json', ...headers },
});

describe('POST /conversations', () => {
  it('creates a conversation in both stores, in canonical agreement and the current legacy format', async () => {
    const body = {
      userId: freshUser(),
      title: 'Trip to Lisbon 🇵🇹',
      messages: [
        { role: 'user', content: 'Where should I eat?' },
        { role: 'assistant', content: 'Try the pastéis de nata.' },
        { role: 'system', content: '' },
        { role: 'tool', content: '{"result": 42}' },
      ],
      metadata: { source: 'web', tags: ['a', 'b'], nested: { n: 1.5, ok: true, none: null, deep: { x: 'y' } }, '': 'empty key' },
    };
    const res = await t.request('POST', '/conversations', { body });
    const stored = await expectWritten(res, 201, 1);
    expect(res.body.id).toMatch(/^[0-9a-f]{24}$/);
    expect(stored.userId).toBe(body.userId);
    expect(stored.title).toBe(body.title);
    expect(stored.metadata).toEqual(body.metadata);
    expect(stored.messages.map((m) => ({ role: m.role, content: m.content }))).toEqual(body.messages);
    expect(stored.createdAt).toBe(stored.updatedAt);
  });

  it('fills absent fields: title null, no messages, metadata {}', async () => {
    const res = await t.request('POST', '/conversations', { body: { userId: freshUser() } });
    const stored = await expectWritten(res, 201, 1);
    expect(stored).toMatchObject({ title: null, messages: [], metadata: {} });
  });

  it('accepts values exactly at the SPEC limits', async () => {
    let deep: Record<string, unknown> = { leaf: 'bottom' };
    for (let level = 1; level < 8; level++) deep = { [`l${level}`]: deep }; // 8 levels, counting the metadata object
    const res = await t.request('POST', '/conversations', {
      body: {
        userId: 'u'.repeat(200),
        title: '😀'.repeat(500), // 500 characters (code points), 1,000 UTF-16 units
        messages: [{ role: 'user', content: 'é'.repeat(32 * 1024) }], // exactly 64 KiB of UTF-8
        metadata: deep,
      },
    });
    await expectWritten(res, 201, 1);

    const pad = 'x'.repeat(16 * 1024 - JSON.stringify({ k: '' }).length);
    const big = await t.request('POST', '/conversations', { body: { userId: freshUser(), metadata: { k: pad } } });
    expect(Buffer.byteLength(JSON.stringify({ k: pad }))).toBe(16 * 1024);
    await expectWritten(big, 201, 1);
  });

  it('accepts an operator token on the application endpoints', async () => {
    const res = await t.request('POST', '/conversations', { body: { userId: freshUser() }, token: OPERATOR_TOKEN });
    await expectWritten(res, 201, 1);
    const got = await t.request('GET', `/conversations/${res.body.id}`, { token: OPERATOR_TOKEN });
    expect(got.status).toBe(200);
  });

  it('keeps a harmless X-Request-Id from the caller', async () => {
    const res = await t.request('POST', '/conversations', { body: { userId: freshUser() }, headers: { 'x-request-id': 'trace-abc.123' } });
    expect(res.status).toBe(201);
    expect(res.headers.get('x-request-id')).toBe('trace-abc.123');
    const bad = await t.request('GET', `/conversations/${ABSENT_ID}`, { headers: { 'x-request-id': 'trace-def.456' } });
    expect(expectErrorShape(bad, 404, 'NOT_FOUND').requestId).toBe('trace-def.456');
  });

  it('400 with field errors for each invalid field, writing nothing', async () => {
    const post = (body: unknown, fields: string[]) => refusedWithFields('POST', '/conversations', { body }, fields);
    await post({}, ['userId']);
    await post({ userId: '' }, ['userId']);
    await post({ userId: 42 }, ['userId']);
    await post({ userId: 'u'.repeat(201) }, ['userId']);
    await post({ userId: 'u', title: 7 }, ['title']);
    await post({ userId: 'u', title: 'x'.repeat(501) }, ['title']);
    await post({ userId: 'u', title: '😀'.repeat(501) }, ['title']);
    await post({ userId: 'u', title: 'a\u0000b' }, ['title']);
    await post({ userId: 'u', title: 'a\ud800b' }, ['title']);
    await post({ userId: 'u', messages: 'hi' }, ['messages']);
    await post({ userId: 'u', messages: ['hi'] }, ['messages[0]']);
    await post({ userId: 'u', messages: [{ role: 'USER', content: 'x' }] }, ['messages[0].role']);
    await post({ userId: 'u', messages: [{ role: 'user' }] }, ['messages[0].content']);
    await post({ userId: 'u', messages: [{ role: 'user', content: 'x', ts: 1 }] }, ['messages[0].ts']);
    await post({ userId: 'u', messages: [{ role: 'user', content: 'x'.repeat(64 * 1024 + 1) }] }, ['messages[0].content']);
    await post({ userId: 'u', messages: Array.from({ length: 1001 }, () => ({ role: 'user', content: '' })) }, ['messages']);
    await post({ userId: 'u', metadata: [] }, ['metadata']);
    await post({ userId: 'u', metadata: 'x' }, ['metadata']);
    await post({ userId: 'u', metadata: null }, ['metadata']);
    await post({ userId: 'u', metadata: { $where: 1 } }, ['metadata["$where"]']);
    await post({ userId: 'u', metadata: { 'a.b': 1 } }, ['metadata["a.b"]']);
    await post({ userId: 'u', metadata: { constructor: 1 } }, ['metadata.constructor']);
    await post({ userId: 'u', metadata: { prototype: { a: 1 } } }, ['metadata.prototype']);
    await post({ userId: 'u', metadata: { k: 'x'.repeat(16 * 1024) } }, ['metadata']);
    let tooDeep: Record<string, unknown> = { leaf: 1 };
    for (let level = 1; level < 9; level++) tooDeep = { [`l${level}`]: tooDeep };
    await post({ userId: 'u', metadata: tooDeep }, ['metadata.l8.l7.l6.l5.l4.l3.l2.l1']);
    await post({ userId: 'u', extra: true }, ['extra']);
    await post({ userId: 42, title: 7, messages: 'x', metadata: [], extra: 1 }, ['userId', 'title', 'messages', 'metadata', 'extra']);
  });

  it('400 MALFORMED_BODY for invalid JSON, invalid UTF-8, "__proto__" keys and non-object JSON', async () => {
    for (const text of ['{', '{"userId":', 'not json', '{"userId":"u",}']) {
      await refused('POST', '/conversations', json(text), 400);
    }
    await refused('POST', '/conversations', json('{"userId":"u","metadata":{"__proto__":{"polluted":true}}}'), 400);
    await refused(
      'POST',
      '/conversations',
      json(Buffer.from([0x7b, 0x22, 0x75, 0x73, 0x65, 0x72, 0x49, 0x64, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0x22, 0x7d])),
      400,
    );
    for (const text of ['[]', '[{"userId":"u"}]', '42', '"u"', 'null', 'true']) {
      await refused('POST', '/conversations', json(text), 400);
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('400 when the body is missing', async () => {
    await refusedWithFields('POST', '/conversations', {}, ['body']);
  });

  it('413 for a body over 1 MiB; exactly 1 MiB is parsed', async () => {
    const exact = JSON.stringify({ userId: 'u', title: 'x'.repeat(ONE_MIB - JSON.stringify({ userId: 'u', title: '' }).length) });
    expect(Buffer.byteLength(exact)).toBe(ONE_MIB);
    await refusedWithFields('POST', '/conversations', json(exact), ['title']);
    const over = JSON.stringify({ userId: 'u', title: 'x'.repeat(ONE_MIB) });
    await refused('POST', '/conversations', json(over), 413, 'PAYLOAD_TOO_LARGE');
  });

  it('415 for a body that is not application/json', async () => {
    const body = JSON.stringify({ userId: freshUser() });
    for (const type of [
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/xml',
      'application/json; charset=latin1',
    ]) {
      await refused('POST', '/conversations', { rawBody: body, headers: { 'content-type': type } }, 415, 'UNSUPPORTED_MEDIA_TYPE');
    }
    // No content type at all (a Buffer body makes fetch send none).
    await refused('POST', '/conversations', { rawBody: Buffer.from(body) }, 415, 'UNSUPPORTED_MEDIA_TYPE');
  });

  it('401 without a token or with a wrong one', async () => {
    const body = { userId: freshUser() };
    await refused('POST', '/conversations', { body, token: null }, 401, 'UNAUTHORIZED');
    await refused('POST', '/conversations', { body, token: 'wrong-token' }, 401, 'UNAUTHORIZED');
    await refused('POST', '/conversations', { body, token: null, headers: { authorization: 'Basic dGVzdHM6eA==' } }, 401, 'UNAUTHORIZED');
    await refused('POST', '/conversations', { body, token: '' }, 401, 'UNAUTHORIZED');
  });
});

describe('GET /conversations/:id', () => {
  it('200 with the conversation and its ETag', async () => {
    const created = await create({ userId: freshUser(), title: 't', messages: [{ role: 'user', content: 'hi' }], metadata: { a: 1 } });
    const res = await t.request('GET', `/conversations/${created.body.id}`);
    expect(res.status).toBe(200);
    expectEtag(res, 1);
    expect(res.body).toEqual(created.body);
  });

  it('404 when absent, 400 for an invalid id, 401 without a valid token', async () => {
    await refused('GET', `/conversations/${ABSENT_ID}`, {}, 404, 'NOT_FOUND');
    for (const id of [
      'abc',
      'AAAAAAAAAAAAAAAAAAAAAAAA',
      'gggggggggggggggggggggggg',
      'aaaaaaaaaaaaaaaaaaaaaaaaa',
      '%24where',
      'aaaaaaaaaaaaaaaaaaaaaaa%00',
    ]) {
      await refused('GET', `/conversations/${id}`, {}, 400, 'VALIDATION_FAILED');
    }
    const created = await create();
    await refused('GET', `/conversations/${created.body.id}`, { token: null }, 401, 'UNAUTHORIZED');
    await refused('GET', `/conversations/${created.body.id}`, { token: 'nope' }, 401, 'UNAUTHORIZED');
  });
});

describe('PATCH /conversations/:id', () => {
  it('changes title and metadata, version +1 each time, in both stores', async () => {
    const created = await create({ userId: freshUser(), title: 'before', metadata: { keep: false } });
    const id = created.body.id;
    const a = await t.request('PATCH', `/conversations/${id}`, { body: { title: 'after' } });
    const s1 = await expectWritten(a, 200, 2);
    expect(s1).toMatchObject({ title: 'after', metadata: { keep: false } });
    expect(Date.parse(s1.updatedAt)).toBeGreaterThanOrEqual(Date.parse(s1.createdAt));

    const b = await t.request('PATCH', `/conversations/${id}`, { body: { metadata: { keep: true, n: [1, 2] } } });
    const s2 = await expectWritten(b, 200, 3);
    expect(s2).toMatchObject({ title: 'after', metadata: { keep: true, n: [1, 2] } });

    const c = await t.request('PATCH', `/conversations/${id}`, { body: { title: null, metadata: {} }, headers: { 'if-match': '"3"' } });
    const s3 = await expectWritten(c, 200, 4);
    expect(s3).toMatchObject({ title: null, metadata: {} });

    const d = await t.request('PATCH', `/conversations/${id}`, { body: { title: 'unquoted if-match' }, headers: { 'if-match': '4' } });
    await expectWritten(d, 200, 5);
  });

  it('412 VERSION_CONFLICT for a stale If-Match, writing nothing', async () => {
    const created = await create();
    const id = created.body.id;
    await expectWritten(await t.request('PATCH', `/conversations/${id}`, { body: { title: 'v2' } }), 200, 2);
    await refused('PATCH', `/conversations/${id}`, { body: { title: 'stale' }, headers: { 'if-match': '"1"' } }, 412, 'VERSION_CONFLICT');
    await refused('PATCH', `/conversations/${id}`, { body: { title: 'future' }, headers: { 'if-match': '"9"' } }, 412, 'VERSION_CONFLICT');
    expect((await readBoth(t, id)).legacy).toMatchObject({ title: 'v2', version: 2 });
  });

  it('400 with field errors, writing nothing', async () => {
    const created = await create({ userId: freshUser(), title: 'x' });
    const path = `/conversations/${created.body.id}`;
    const patch = (body: unknown, fields: string[]) => refusedWithFields('PATCH', path, { body }, fields);
    await patch({}, ['body']);
    await patch({ userId: 'someone-else' }, ['userId']);
    await patch({ title: 5 }, ['title']);
    await patch({ title: 'x'.repeat(501) }, ['title']);
    await patch({ metadata: null }, ['metadata']);
    await patch({ metadata: [1] }, ['metadata']);
    await patch({ metadata: { $set: { a: 1 } } }, ['metadata["$set"]']);
    await patch({ title: 'ok', messages: [] }, ['messages']);
    await refusedWithFields('PATCH', path, { body: { title: 'ok' }, headers: { 'if-match': 'banana' } }, ['If-Match']);
    await refusedWithFields('PATCH', path, { body: { title: 'ok' }, headers: { 'if-match': '"1", "2"' } }, ['If-Match']);
    await refusedWithFields('PATCH', `/conversations/not-an-id`, { body: { title: 'ok' } }, ['id']);
    await refused('PATCH', path, json('[{"title":"x"}]'), 400);
    await refused('PATCH', path, json('{"metadata":{"__proto__":{}}}'), 400);
  });

  it('404 when absent or deleted; 401, 413, 415 as for every body', async () => {
    await refused('PATCH', `/conversations/${ABSENT_ID}`, { body: { title: 'x' } }, 404, 'NOT_FOUND');
    const created = await create();
    const path = `/conversations/${created.body.id}`;
    await refused('PATCH', path, { body: { title: 'x' }, token: null }, 401, 'UNAUTHORIZED');
    await refused('PATCH', path, { body: { title: 'x' }, token: 'wrong' }, 401, 'UNAUTHORIZED');
    await refused('PATCH', path, json(JSON.stringify({ title: 'x'.repeat(ONE_MIB) })), 413, 'PAYLOAD_TOO_LARGE');
    await refused('PATCH', path, { rawBody: '{"title":"x"}', headers: { 'content-type': 'text/plain' } }, 415, 'UNSUPPORTED_MEDIA_TYPE');
    expect((await t.request('DELETE', path)).status).toBe(204);
    await refused('PATCH', path, { body: { title: 'x' } }, 404, 'NOT_FOUND');
  });
});

describe('POST /conversations/:id/messages', () => {
  it('appends a message, version +1, in both stores', async () => {
    const created = await create({ userId: freshUser(), messages: [{ role: 'user', content: 'first' }] });
    const id = created.body.id;
    const res = await t.request('POST', `/conversations/${id}/messages`, { body: { role: 'assistant', content: 'second 👋' } });
    const stored = await expectWritten(res, 201, 2);
    expect(stored.messages.map((m) => [m.role, m.content])).toEqual([
      ['user', 'first'],
      ['assistant', 'second 👋'],
    ]);
    expect(stored.messages[1].createdAt).toBe(stored.updatedAt);

    const pinned = await t.request('POST', `/conversations/${id}/messages`, {
      body: { role: 'tool', content: '' },
      headers: { 'if-match': '"2"' },
    });
    const s2 = await expectWritten(pinned, 201, 3);
    expect(s2.messages).toHaveLength(3);

    const big = await t.request('POST', `/conversations/${id}/messages`, { body: { role: 'user', content: '€'.repeat(21845) + 'x' } }); // 65,536 bytes
    await expectWritten(big, 201, 4);
  });

  it('412 for a stale If-Match; 404 absent or deleted; 400, 401, 413, 415, writing nothing', async () => {
    const created = await create();
    const path = `/conversations/${created.body.id}/messages`;
    await refused('POST', path, { body: { role: 'user', content: 'x' }, headers: { 'if-match': '"7"' } }, 412, 'VERSION_CONFLICT');
    await refused('POST', `/conversations/${ABSENT_ID}/messages`, { body: { role: 'user', content: 'x' } }, 404, 'NOT_FOUND');
    const post = (body: unknown, fields: string[]) => refusedWithFields('POST', path, { body }, fields);
    await post({}, ['role', 'content']);
    await post({ role: 'admin', content: 'x' }, ['role']);
    await post({ role: 'User', content: 'x' }, ['role']);
    await post({ role: 'user', content: 5 }, ['content']);
    await post({ role: 'user', content: null }, ['content']);
    await post({ role: 'user', content: 'x'.repeat(64 * 1024 + 1) }, ['content']);
    await post({ role: 'user', content: 'nul\u0000' }, ['content']);
    await post({ role: 'user', content: '\udc00' }, ['content']);
    await post({ role: 'user', content: 'x', createdAt: '2020-01-01T00:00:00Z' }, ['createdAt']);
    await post([{ role: 'user', content: 'x' }], ['body']);
    await refusedWithFields('POST', '/conversations/xyz/messages', { body: { role: 'user', content: 'x' } }, ['id']);
    await refused('POST', path, { body: { role: 'user', content: 'x' }, token: null }, 401, 'UNAUTHORIZED');
    await refused('POST', path, { body: { role: 'user', content: 'x' }, token: 'wrong' }, 401, 'UNAUTHORIZED');
    await refused('POST', path, json(JSON.stringify({ role: 'user', content: 'x'.repeat(ONE_MIB) })), 413, 'PAYLOAD_TOO_LARGE');
    await refused(
      'POST',
      path,
      { rawBody: 'role=user&content=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } },
      415,
      'UNSUPPORTED_MEDIA_TYPE',
    );
    expect((await t.request('DELETE', `/conversations/${created.body.id}`)).status).toBe(204);
    await refused('POST', path, { body: { role: 'user', content: 'x' } }, 404, 'NOT_FOUND');
  });
});

describe('DELETE /conversations/:id', () => {
  it('204 with the ETag of the deletion; soft delete in both stores; then 404 everywhere', async () => {
    const user = freshUser();
    const created = await create({ userId: user, title: 'doomed', messages: [{ role: 'user', content: 'bye' }] });
    const id = created.body.id;
    const res = await t.request('DELETE', `/conversations/${id}`, { headers: { 'if-match': '"1"' } });
    expect(res.status).toBe(204);
    expect(res.body).toBeUndefined();
    expect(res.headers.get('etag')).toBe('"2"');

    const stored = await expectStoresAgree(t, id);
    expect(stored).toMatchObject({ deleted: true, version: 2, title: 'doomed' });
    expect(stored.messages).toHaveLength(1);
    const raw = await legacyRaw(t, id);
    expectCurrentLegacyFormat(raw);
    expect(raw!.deleted).toBe(true);

    await refused('GET', `/conversations/${id}`, {}, 404, 'NOT_FOUND');
    await refused('DELETE', `/conversations/${id}`, {}, 404, 'NOT_FOUND');
    const list = await t.request('GET', `/conversations?userId=${encodeURIComponent(user)}`);
    expect(list.status).toBe(200);
    expect(list.body).toEqual({ items: [], nextCursor: null });
  });

  it('412 for a stale If-Match; 404 absent; 400 bad id; 401, writing nothing', async () => {
    const created = await create();
    const path = `/conversations/${created.body.id}`;
    await refused('DELETE', path, { headers: { 'if-match': '"2"' } }, 412, 'VERSION_CONFLICT');
    await refused('DELETE', `/conversations/${ABSENT_ID}`, {}, 404, 'NOT_FOUND');
    await refusedWithFields('DELETE', '/conversations/123', {}, ['id']);
    await refused('DELETE', path, { token: null }, 401, 'UNAUTHORIZED');
    await refused('DELETE', path, { token: 'wrong' }, 401, 'UNAUTHORIZED');
    expect((await readBoth(t, created.body.id)).pg).toMatchObject({ deleted: false, version: 1 });
  });
});

describe('GET /conversations (list)', () => {
  async function listAll(user: string, limit: number | undefined): Promise<{ pages: any[][]; items: any[] }> {
    const pages: any[][] = [];
    let cursor: string | null | undefined;
    for (let guard = 0; guard < 50; guard++) {
      const params = new URLSearchParams({ userId: user });
      if (limit !== undefined) params.set('limit', String(limit));
      if (cursor) params.set('cursor', cursor);
      const res = await t.request('GET', `/conversations?${params}`);
      expect({ status: res.status, body: res.body }).toEqual({ status: 200, body: res.body });
      expect(Object.keys(res.body).sort()).toEqual(['items', 'nextCursor']);
      expect(res.body.items.length).toBeLessThanOrEqual(limit ?? 20);
      pages.push(res.body.items);
      cursor = res.body.nextCursor;
      if (cursor === null) return { pages, items: pages.flat() };
      expect(typeof cursor).toBe('string');
    }
    throw new Error('pagination did not end within 50 pages');
  }

  // Reads come from legacy in shadow and from the new store in deprecation: both must page the same way.
  it.each(['shadow', 'deprecation'] as const)('pages newest first without duplicates or gaps (phase %s)', async (phase) => {
    const user = freshUser('pager');
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) ids.push((await create({ userId: user, title: `c${i}` })).body.id);
    const deleted = ids.splice(3, 1)[0];
    expect((await t.request('DELETE', `/conversations/${deleted}`)).status).toBe(204);
    await create({ userId: freshUser('other') });

    await t.setPhase(phase);
    try {
      const { pages, items } = await listAll(user, 2);
      expect(pages.slice(0, 3).map((p) => p.length)).toEqual([2, 2, 2]);
      const listed = items.map((i) => i.id);
      expect(new Set(listed).size).toBe(listed.length);
      expect([...listed].sort()).toEqual([...ids].sort());
      // Newest first: createdAt descending, ties broken by id descending.
      const order = [...items].sort((a, b) => (a.createdAt === b.createdAt ? (a.id < b.id ? 1 : -1) : a.createdAt < b.createdAt ? 1 : -1));
      expect(listed).toEqual(order.map((i) => i.id));
      expect(listed).toEqual([...ids].reverse());
      for (const item of items) {
        expect(item.userId).toBe(user);
        expect(item.version).toBe(1);
      }
      expect((await listAll(user, undefined)).pages).toHaveLength(1);
      expect((await listAll(user, 100)).items.map((i) => i.id)).toEqual(listed);
      expect((await listAll(user, 1)).items.map((i) => i.id)).toEqual(listed);
    } finally {
      await t.setPhase('shadow');
    }
  });

  it('defaults to 20 items a page', async () => {
    const user = freshUser('many');
    for (let i = 0; i < 21; i++) await create({ userId: user });
    const first = await t.request('GET', `/conversations?userId=${user}`);
    expect(first.status).toBe(200);
    expect(first.body.items).toHaveLength(20);
    expect(typeof first.body.nextCursor).toBe('string');
    const second = await t.request('GET', `/conversations?userId=${user}&cursor=${encodeURIComponent(first.body.nextCursor)}`);
    expect(second.body.items).toHaveLength(1);
    expect(second.body.nextCursor).toBeNull();
    expect(first.body.items.map((i: any) => i.id)).not.toContain(second.body.items[0].id);
  });

  it('400 for a missing userId, a limit outside 1..100, a foreign cursor or an unknown parameter; 401', async () => {
    await refusedWithFields('GET', '/conversations', {}, ['userId']);
    await refusedWithFields('GET', '/conversations?userId=', {}, ['userId']);
    await refusedWithFields('GET', '/conversations?userId=a&userId=b', {}, ['userId']);
    for (const limit of ['0', '101', '-1', '1.5', 'abc', '', '1e2', '1000']) {
      await refusedWithFields('GET', `/conversations?userId=u&limit=${encodeURIComponent(limit)}`, {}, ['limit']);
    }
    const forged = Buffer.from(JSON.stringify([Date.now(), 'not-an-id'])).toString('base64url');
    for (const cursor of ['garbage', forged, 'x'.repeat(201), Buffer.from('{"$gt":""}').toString('base64url')]) {
      await refusedWithFields('GET', `/conversations?userId=u&cursor=${encodeURIComponent(cursor)}`, {}, ['cursor']);
    }
    await refusedWithFields('GET', '/conversations?userId=u&sort=asc', {}, ['sort']);
    await refused('GET', '/conversations?userId=u', { token: null }, 401, 'UNAUTHORIZED');
    await refused('GET', '/conversations?userId=u', { token: 'wrong' }, 401, 'UNAUTHORIZED');
  });
});

describe('phase deprecation (the new store is the source of truth, legacy the secondary)', () => {
  beforeAll(async () => t.setPhase('deprecation'));
  afterAll(async () => t.setPhase('shadow'));

  it('every write still reaches both stores, equal in canonical form, legacy in the current format', async () => {
    const created = await t.request('POST', '/conversations', {
      body: { userId: freshUser('dep'), title: 'dep', messages: [{ role: 'user', content: 'a' }], metadata: { a: { b: [1, null, 'c'] } } },
    });
    const id = created.body.id;
    await expectWritten(created, 201, 1);
    await expectWritten(
      await t.request('PATCH', `/conversations/${id}`, { body: { title: 'dep 2', metadata: { z: 1 } }, headers: { 'if-match': '"1"' } }),
      200,
      2,
    );
    await expectWritten(await t.request('POST', `/conversations/${id}/messages`, { body: { role: 'assistant', content: 'b' } }), 201, 3);
    await refused('PATCH', `/conversations/${id}`, { body: { title: 'stale' }, headers: { 'if-match': '"2"' } }, 412, 'VERSION_CONFLICT');
    const removed = await t.request('DELETE', `/conversations/${id}`);
    expect(removed.status).toBe(204);
    expect(removed.headers.get('etag')).toBe('"4"');
    expect(await expectStoresAgree(t, id)).toMatchObject({ deleted: true, version: 4, title: 'dep 2' });
    expectCurrentLegacyFormat(await legacyRaw(t, id));
    await refused('GET', `/conversations/${id}`, {}, 404, 'NOT_FOUND');
  });
});

describe('legacy documents as they exist in the wild (SPEC section 1)', () => {
  /** A document of the older formats: userId, messages[].content, upper-case roles, string and epoch timestamps, no updated, no v. */
  function oldDocument(user: string, created: Date, createdAsString: boolean, title: string) {
    return {
      _id: new ObjectId(),
      userId: user,
      title,
      messages: [
        { role: 'USER', content: 'old question', ts: created.getTime() },
        { role: 'Assistant', content: 'old answer', ts: new Date(created.getTime() + 1000).toISOString() },
      ],
      meta: { legacy: { nested: [1, 'two'] } },
      created: createdAsString ? created.toISOString() : created,
    };
  }

  it('reads an old-format document and rewrites it in the current format on the first write', async () => {
    const user = freshUser('legacy');
    const doc = oldDocument(user, new Date(Date.UTC(2019, 5, 1, 12, 0, 0, 123)), true, 'from 2019');
    await legacyCollection(t).insertOne(doc);
    const id = doc._id.toHexString();

    const got = await t.request('GET', `/conversations/${id}`);
    expect(got.status).toBe(200);
    expectEtag(got, 0);
    expect(got.body).toMatchObject({
      userId: user,
      title: 'from 2019',
      createdAt: '2019-06-01T12:00:00.123Z',
      updatedAt: '2019-06-01T12:00:00.123Z',
      metadata: { legacy: { nested: [1, 'two'] } },
      messages: [
        { role: 'user', content: 'old question', createdAt: '2019-06-01T12:00:00.123Z' },
        { role: 'assistant', content: 'old answer', createdAt: '2019-06-01T12:00:01.123Z' },
      ],
    });

    const patched = await t.request('PATCH', `/conversations/${id}`, { body: { title: 'rewritten' }, headers: { 'if-match': '"0"' } });
    const stored = await expectWritten(patched, 200, 1);
    expect(stored.messages.map((m) => m.content)).toEqual(['old question', 'old answer']);
    const raw = await legacyRaw(t, id);
    expect(raw).not.toHaveProperty('userId');
    expect(raw!.user_id).toBe(user);
  });

  // SPEC section 1: old documents hold `created` as an ISO string, which MongoDB neither orders nor
  // compares with Dates; listing from legacy must still be newest first with nothing skipped.
  it('lists documents whose created is an ISO string or a Date newest first, across pages', async () => {
    const user = freshUser('mixed');
    const docs = Array.from({ length: 6 }, (_, i) => oldDocument(user, new Date(Date.UTC(2020, 0, 1 + i)), i % 3 === 0, `d${i}`));
    await legacyCollection(t).insertMany(docs);
    const titles: string[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < 10; page++) {
      const res: TestResponse = await t.request(
        'GET',
        `/conversations?userId=${user}&limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
      );
      expect(res.status).toBe(200);
      titles.push(...res.body.items.map((i: { title: string }) => i.title));
      cursor = res.body.nextCursor;
      if (cursor === null) break;
    }
    expect(titles).toEqual(['d5', 'd4', 'd3', 'd2', 'd1', 'd0']);
  });
});

describe('Idempotency-Key', () => {
  it('same key and body on POST /conversations: the first response again, one write', async () => {
    const before = await snapshotStores(t);
    const body = { userId: freshUser(), title: 'once', metadata: { a: 1 } };
    const headers = { 'idempotency-key': `create-${freshUser()}` };
    const first = await t.request('POST', '/conversations', { body, headers });
    await expectWritten(first, 201, 1);
    const second = await t.request('POST', '/conversations', { body, headers });
    expect(second.status).toBe(201);
    expect(second.body).toEqual(first.body);
    expect(second.headers.get('etag')).toBe(first.headers.get('etag'));

    const after = await snapshotStores(t);
    expect(after.conversations).toBe(before.conversations + 1);
    expect(after.legacyDocuments).toBe(before.legacyDocuments + 1);
    const { legacy, pg } = await readBoth(t, first.body.id);
    expect(legacy!.version).toBe(1);
    expect(pg!.version).toBe(1);

    await refused('POST', '/conversations', { body: { ...body, title: 'twice' }, headers }, 422, 'IDEMPOTENCY_KEY_REUSED');
  });

  it('same key and body on POST messages: appended once', async () => {
    const created = await create();
    const id = created.body.id;
    const headers = { 'idempotency-key': `append-${freshUser()}` };
    const body = { role: 'user', content: 'exactly once' };
    const first = await t.request('POST', `/conversations/${id}/messages`, { body, headers });
    await expectWritten(first, 201, 2);
    for (let i = 0; i < 3; i++) {
      const again = await t.request('POST', `/conversations/${id}/messages`, { body, headers });
      expect(again.status).toBe(201);
      expect(again.body).toEqual(first.body);
      expect(again.headers.get('etag')).toBe('"2"');
    }
    const stored = await expectStoresAgree(t, id);
    expect(stored.version).toBe(2);
    expect(stored.messages).toHaveLength(1);
    await refused(
      'POST',
      `/conversations/${id}/messages`,
      { body: { role: 'user', content: 'something else' }, headers },
      422,
      'IDEMPOTENCY_KEY_REUSED',
    );
  });

  describe('from two API processes', () => {
    let replicas: Replicas;
    beforeAll(async () => {
      replicas = await startReplicas(t, 'conversations-api');
    }, 120_000);
    afterAll(async () => replicas?.stop(), 60_000);

    it('concurrent requests with one key, half through each process, write once', async () => {
      const before = await snapshotStores(t);
      const body = { userId: freshUser('race') };
      const headers = { 'idempotency-key': `race-${freshUser()}` };
      const results = await Promise.all(
        Array.from({ length: 8 }, (_, i) => replicas.request(i, 'POST', '/conversations', { body, headers })),
      );
      const ok = results.filter((r) => r.status === 201);
      expect(ok.length).toBeGreaterThanOrEqual(1);
      for (const r of ok) expect(r.body).toEqual(ok[0].body);
      for (const r of results.filter((x) => x.status !== 201)) expectErrorShape(r, 409, 'IDEMPOTENT_REQUEST_IN_PROGRESS');
      const after = await snapshotStores(t);
      expect(after.conversations).toBe(before.conversations + 1);
      expect(after.legacyDocuments).toBe(before.legacyDocuments + 1);
    });
  });

  it('400 for an invalid key, writing nothing', async () => {
    for (const key of ['has space', 'x'.repeat(201), 'semi;colon', 'ü']) {
      await refusedWithFields('POST', '/conversations', { body: { userId: freshUser() }, headers: { 'idempotency-key': key } }, [
        'Idempotency-Key',
      ]);
    }
  });

  it('a key whose first request failed can be used again', async () => {
    const headers = { 'idempotency-key': `retry-${freshUser()}` };
    await refused('POST', `/conversations/${ABSENT_ID}/messages`, { body: { role: 'user', content: 'x' }, headers }, 404, 'NOT_FOUND');
    const created = await create();
    const res = await t.request('POST', `/conversations/${created.body.id}/messages`, { body: { role: 'user', content: 'x' }, headers });
    await expectWritten(res, 201, 2);
  });
});

describe('errors outside the conversation routes', () => {
  it('an unknown route is 404 in the SPEC shape', async () => {
    await refused('GET', '/no-such-route', {}, 404, 'NOT_FOUND');
    await refused('GET', `/conversations/${ABSENT_ID}/nothing`, {}, 404, 'NOT_FOUND');
  });
});

describe('OpenAPI', () => {
  it('/docs-json lists the conversation paths with their methods', async () => {
    // API_DOCS defaults to operator (test/api-docs.test.ts covers the modes).
    const res = await t.request('GET', '/docs-json', { token: OPERATOR_TOKEN });
    expect(res.status).toBe(200);
    const paths = res.body.paths as Record<string, Record<string, unknown>>;
    const methods = (p: string) =>
      Object.keys(paths[p] ?? {})
        .filter((m) => ['get', 'post', 'put', 'patch', 'delete'].includes(m))
        .sort();
    expect(methods('/conversations')).toEqual(['get', 'post']);
    expect(methods('/conversations/{id}')).toEqual(['delete', 'get', 'patch']);
    expect(methods('/conversations/{id}/messages')).toEqual(['post']);
  });
});
