/**
 * Reads the stores behind a running test app directly (not through the API): one conversation from
 * both stores in canonical form, and whole-store snapshots to prove that a refused request wrote
 * nothing anywhere. Also the assertions on the SPEC error shape and the current legacy format.
 */
import { BSON, Document, ObjectId } from 'mongodb';
import { canonical, CanonicalConversation, canonicalJson, diffCanonical } from '../../src/model/canonical';
import { fromLegacy } from '../../src/model/legacy-transform';
import type { TestApp, TestResponse } from './app';
import { readPgConversations } from './pg-read';

export function legacyCollection(t: TestApp) {
  return t.legacy.collection(t.config.legacy.collection);
}

export async function legacyRaw(t: TestApp, id: string): Promise<Document | null> {
  return legacyCollection(t).findOne({ _id: ObjectId.createFromHexString(id) });
}

export async function readLegacy(t: TestApp, id: string): Promise<CanonicalConversation | null> {
  const doc = await legacyRaw(t, id);
  return doc ? canonical(fromLegacy(doc)) : null;
}

export async function readNew(t: TestApp, id: string): Promise<CanonicalConversation | null> {
  const [c] = await readPgConversations(t.pg, id);
  return c ? canonical(c) : null;
}

export async function readBoth(
  t: TestApp,
  id: string,
): Promise<{ legacy: CanonicalConversation | null; pg: CanonicalConversation | null }> {
  const [legacy, pg] = await Promise.all([readLegacy(t, id), readNew(t, id)]);
  return { legacy, pg };
}

/**
 * Waits (bounded) until no follow-up for the conversation is left in the outbox: in `deprecation` legacy
 * follows the new store after the write is acknowledged, off the request path (a failed secondary write is
 * followed up the same way in other phases).
 */
export async function followUpsSettled(t: TestApp, id: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const [{ n }] = (await t.pg.query<{ n: number }>('SELECT count(*)::int AS n FROM repair_outbox WHERE conversation_id = $1', [id])).rows;
    if (n === 0) return;
    if (Date.now() > deadline) throw new Error(`${n} follow-up(s) for ${id} still in the outbox after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Both stores hold the conversation and agree on it exactly (canonical form), once its follow-ups are settled; returns it. */
export async function expectStoresAgree(t: TestApp, id: string): Promise<CanonicalConversation> {
  await followUpsSettled(t, id);
  const { legacy, pg } = await readBoth(t, id);
  expect(legacy).not.toBeNull();
  expect(pg).not.toBeNull();
  expect(diffCanonical(legacy!, pg!)).toEqual([]);
  expect(canonicalJson(legacy!)).toBe(canonicalJson(pg!));
  return legacy!;
}

/** The format SPEC section 1 says this service writes: user_id, messages[].text, Dates, meta, v. */
export function expectCurrentLegacyFormat(doc: Document | null): void {
  expect(doc).not.toBeNull();
  const d = doc!;
  const expectedKeys = ['_id', 'created', 'messages', 'meta', 'title', 'updated', 'user_id', 'v'];
  if (d.deleted !== undefined) expectedKeys.push('deleted');
  expect(Object.keys(d).sort()).toEqual(expectedKeys.sort());
  expect(d._id).toBeInstanceOf(ObjectId);
  expect(typeof d.user_id).toBe('string');
  expect(d.title === null || typeof d.title === 'string').toBe(true);
  expect(d.created).toBeInstanceOf(Date);
  expect(d.updated).toBeInstanceOf(Date);
  expect(Number.isSafeInteger(d.v)).toBe(true);
  expect(d.meta !== null && typeof d.meta === 'object' && !Array.isArray(d.meta)).toBe(true);
  if (d.deleted !== undefined) expect(d.deleted).toBe(true);
  expect(Array.isArray(d.messages)).toBe(true);
  for (const m of d.messages as Document[]) {
    expect(Object.keys(m).sort()).toEqual(['role', 'text', 'ts']);
    expect(['user', 'assistant', 'system', 'tool']).toContain(m.role);
    expect(typeof m.text).toBe('string');
    expect(m.ts).toBeInstanceOf(Date);
  }
}

export interface StoreSnapshot {
  conversations: number;
  messages: number;
  legacyDocuments: number;
  /** Every row and document, serialised with their types (EJSON canonical for the legacy side). */
  pgConversations: string;
  pgMessages: string;
  legacy: string;
}

export async function snapshotStores(t: TestApp): Promise<StoreSnapshot> {
  const [conversations, messages, docs] = await Promise.all([
    t.pg.query<{ j: string; n: number }>(
      `SELECT coalesce(json_agg(c ORDER BY c.id), '[]')::text AS j, count(*)::int AS n FROM conversations c`,
    ),
    t.pg.query<{ j: string; n: number }>(
      `SELECT coalesce(json_agg(m ORDER BY m.conversation_id, m.seq), '[]')::text AS j, count(*)::int AS n FROM messages m`,
    ),
    legacyCollection(t).find({}).sort({ _id: 1 }).batchSize(100000).toArray(),
  ]);
  return {
    conversations: conversations.rows[0].n,
    messages: messages.rows[0].n,
    legacyDocuments: docs.length,
    pgConversations: conversations.rows[0].j,
    pgMessages: messages.rows[0].j,
    legacy: BSON.EJSON.stringify(docs, { relaxed: false }),
  };
}

export function expectSameSnapshot(after: StoreSnapshot, before: StoreSnapshot): void {
  // Counts first, so a failure says what changed before printing whole stores.
  expect({ conversations: after.conversations, messages: after.messages, legacyDocuments: after.legacyDocuments }).toEqual({
    conversations: before.conversations,
    messages: before.messages,
    legacyDocuments: before.legacyDocuments,
  });
  expect(after.pgConversations).toBe(before.pgConversations);
  expect(after.pgMessages).toBe(before.pgMessages);
  expect(after.legacy).toBe(before.legacy);
}

const ERROR_CODE = /^[A-Z][A-Z0-9_]*$/;

/**
 * The SPEC error shape, exactly: `{statusCode, code, message, errors?, requestId}` with `errors` as
 * `[{field, message}]` when present, the request id also in `X-Request-Id`. Returns the body.
 */
export function expectErrorShape(res: TestResponse, status: number, code?: string): Record<string, any> {
  // Status and body together, so a wrong status shows what the service answered.
  expect({ status: res.status, body: res.body }).toEqual({ status, body: res.body });
  expect(res.headers.get('content-type') ?? '').toMatch(/^application\/json/);
  const body = res.body;
  expect(body !== null && typeof body === 'object' && !Array.isArray(body)).toBe(true);
  const keys = Object.keys(body).sort();
  const allowed = ['code', 'errors', 'message', 'requestId', 'statusCode'];
  expect(keys.filter((k) => !allowed.includes(k))).toEqual([]);
  expect(keys).toEqual(expect.arrayContaining(['code', 'message', 'requestId', 'statusCode']));
  expect(body.statusCode).toBe(status);
  expect(typeof body.code).toBe('string');
  expect(body.code).toMatch(ERROR_CODE);
  if (code !== undefined) expect(body.code).toBe(code);
  expect(typeof body.message).toBe('string');
  expect(body.message.length).toBeGreaterThan(0);
  expect(typeof body.requestId).toBe('string');
  expect(body.requestId.length).toBeGreaterThan(0);
  expect(res.headers.get('x-request-id')).toBe(body.requestId);
  if ('errors' in body) {
    expect(Array.isArray(body.errors)).toBe(true);
    expect(body.errors.length).toBeGreaterThan(0);
    for (const e of body.errors) {
      expect(Object.keys(e).sort()).toEqual(['field', 'message']);
      expect(typeof e.field).toBe('string');
      expect(typeof e.message).toBe('string');
    }
  }
  return body;
}

/** A 400 VALIDATION_FAILED whose field errors name each of `fields`. */
export function expectFieldErrors(res: TestResponse, fields: string[]): void {
  const body = expectErrorShape(res, 400, 'VALIDATION_FAILED');
  expect(Array.isArray(body.errors)).toBe(true);
  const named = (body.errors as Array<{ field: string }>).map((e) => e.field);
  expect(named).toEqual(expect.arrayContaining(fields));
}

/** Polls `check` until it returns true or `timeoutMs` passes; the last error (if any) is rethrown. */
export async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 30000, intervalMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
