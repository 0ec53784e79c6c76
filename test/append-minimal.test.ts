/**
 * `Prefer: return=minimal` on POST /conversations/:id/messages: the answer is the message added (AppendedMessage), and
 * where the new store is the source of truth the append reads only the conversation's head (its row, the count and
 * the bytes of its messages), so neither its read nor its answer grows with the conversation. Two API processes (the
 * test's app and a process of its own) on one set of stores:
 * - in every write mode the minimal answer names the message where both stores then hold it;
 * - writers on both processes appending to one conversation, minimal and whole answers and header changes mixed: every
 *   acknowledged append is in the source of truth once, at the position its answer named, and legacy follows;
 * - If-Match, 404, the size limit and a store's refusal answer as the whole append does, writing nothing;
 * - a keyed minimal append replays its minimal answer on the other process.
 */
import type { Conversation } from '../src/model/conversation.model';
import { newConversationId } from '../src/model/object-id';
import { MAX_CONVERSATION_BYTES } from '../src/conversations/conversation.service';
import { ConversationStore, LEGACY_STORE, NEW_STORE } from '../src/stores/conversation-store.port';
import type { Phase } from '../src/model/phases';
import { startTestApp, TestApp, TestResponse } from './support/app';
import { Replicas, startReplicas } from './support/replicas';
import { expectErrorShape, expectStoresAgree, readNew, snapshotStores, StoreSnapshot, waitFor } from './support/stores';

let t: TestApp;
let replicas: Replicas;

beforeAll(async () => {
  t = await startTestApp();
  replicas = await startReplicas(t, 'append-minimal');
}, 120_000);
afterAll(async () => {
  await replicas?.stop();
  await t?.close();
}, 60_000);

/** Both stores once every follow-up is settled (legacy follows after the answer in deprecation). */
async function settledSnapshot(): Promise<StoreSnapshot> {
  await waitFor('follow-ups settled', async () => (await t.pg.query('SELECT count(*)::int AS n FROM repair_outbox')).rows[0].n === 0);
  return snapshotStores(t);
}

const MINIMAL = { prefer: 'return=minimal' };
const append = (via: number, id: string, content: string, headers: Record<string, string> = MINIMAL, role = 'user') =>
  replicas.request(via, 'POST', `/conversations/${id}/messages`, { body: { role, content }, headers });

async function created(messages = 0): Promise<string> {
  const body = {
    userId: 'minimal',
    title: 'minimal',
    messages: Array.from({ length: messages }, (_, i) => ({ role: 'user', content: `m${i}` })),
  };
  const res = await t.request('POST', '/conversations', { body });
  expect(res.status).toBe(201);
  return res.body.id;
}

function expectMinimal(res: TestResponse, id: string, messageCount: number, content: string): void {
  expect(res.status).toBe(201);
  expect(res.headers.get('preference-applied')).toBe('return=minimal');
  expect(res.headers.get('etag')).toBe(`"${res.body.version}"`);
  expect(Object.keys(res.body).sort()).toEqual(['id', 'message', 'messageCount', 'updatedAt', 'version']);
  expect(res.body).toMatchObject({ id, messageCount, message: { role: 'user', content } });
  expect(res.body.message.createdAt).toBe(res.body.updatedAt);
}

describe('Prefer: return=minimal', () => {
  it.each<Phase>(['shadow', 'rollout', 'deprecation', 'cleanup'])(
    'answers with the message added where the stores hold it, in %s',
    async (phase) => {
      await t.setPhase('rollout');
      const id = await created(3);
      await t.setPhase(phase);
      const res = await append(1, id, 'fourth');
      expectMinimal(res, id, 4, 'fourth');
      expect(res.body.version).toBe(2);
      const whole = await t.request('GET', `/conversations/${id}`);
      expect(whole.body.version).toBe(2);
      expect(whole.body.messages.map((m: { content: string }) => m.content)).toEqual(['m0', 'm1', 'm2', 'fourth']);
      expect(whole.body.messages[3]).toEqual(res.body.message);
      expect(whole.body.updatedAt).toBe(res.body.updatedAt);
      if (phase !== 'cleanup') await expectStoresAgree(t, id);
      // Without the preference, the same endpoint answers with the whole conversation.
      const full = await append(0, id, 'fifth', {});
      expect(full.status).toBe(201);
      expect(full.headers.get('preference-applied')).toBeNull();
      expect(full.body.messages).toHaveLength(5);
    },
  );

  it('reads the preference among others, in any case and quoted, and ignores other return values', async () => {
    await t.setPhase('deprecation');
    const id = await created();
    expectMinimal(await append(1, id, 'a', { prefer: 'respond-async, RETURN="minimal"; x=1' }), id, 1, 'a');
    const other = await append(0, id, 'b', { prefer: 'return=representation' });
    expect(other.status).toBe(201);
    expect(other.body.messages).toHaveLength(2);
    expect(other.headers.get('vary')).toMatch(/prefer/i);
  });

  it('keeps every acknowledged append once, where its answer put it, with writers on two processes', async () => {
    await t.setPhase('deprecation');
    const id = await created(2);
    const acknowledged: Array<{ content: string; index: number; version: number }> = [];
    let patches = 0;
    const writer = async (w: number) => {
      for (let i = 0; i < 25; i++) {
        const content = `w${w}-${i}`;
        const minimal = (w + i) % 3 !== 0;
        const res = await append(w, id, content, minimal ? MINIMAL : {});
        if (res.status !== 201) throw new Error(`append ${content}: ${res.status} ${JSON.stringify(res.body)}`);
        const index = minimal ? res.body.messageCount - 1 : res.body.messages.length - 1;
        acknowledged.push({ content, index, version: res.body.version });
        if (i % 10 === 5) {
          expect((await replicas.request(w + 1, 'PATCH', `/conversations/${id}`, { body: { title: content } })).status).toBe(200);
          patches++;
        }
      }
    };
    await Promise.all([0, 1, 2, 3].map(writer));
    const final = (await readNew(t, id))!;
    expect(final.messages).toHaveLength(2 + acknowledged.length);
    for (const a of acknowledged) expect(final.messages[a.index].content).toBe(a.content);
    expect(new Set(acknowledged.map((a) => a.version)).size).toBe(acknowledged.length);
    expect(final.version).toBe(1 + acknowledged.length + patches);
    await expectStoresAgree(t, id);
  });

  it('refuses as the whole append does, writing nothing: If-Match, absent and deleted conversations', async () => {
    await t.setPhase('deprecation');
    const id = await created(1);
    const before = await settledSnapshot();
    const stale = await append(1, id, 'stale', { ...MINIMAL, 'if-match': '"7"' });
    expectErrorShape(stale, 412, 'VERSION_CONFLICT');
    expect(stale.headers.get('preference-applied')).toBeNull();
    expectErrorShape(await append(1, newConversationId(new Date()), 'nobody'), 404, 'NOT_FOUND');
    expect(await settledSnapshot()).toEqual(before);
    expectMinimal(await append(1, id, 'matched', { ...MINIMAL, 'if-match': '"1"' }), id, 2, 'matched');
    expect((await t.request('DELETE', `/conversations/${id}`)).status).toBe(204);
    const deleted = await settledSnapshot();
    expectErrorShape(await append(1, id, 'after delete'), 404, 'NOT_FOUND');
    expect(await settledSnapshot()).toEqual(deleted);
  });

  it('refuses an append past the size limit from the head, as from the whole conversation', async () => {
    await t.setPhase('deprecation');
    // Written straight into both stores, as the dual writes would have left it: less than a 64 KiB message short of the limit.
    const at = new Date();
    const big: Conversation = {
      id: newConversationId(at),
      userId: 'minimal',
      title: null,
      messages: Array.from({ length: Math.floor(MAX_CONVERSATION_BYTES / (64 * 1024 + 64)) }, (_, i) => ({
        role: 'user',
        content: String(i % 10).repeat(64 * 1024),
        createdAt: at,
      })),
      metadata: {},
      createdAt: at,
      updatedAt: at,
      version: 1,
      deleted: false,
    };
    for (const store of [LEGACY_STORE, NEW_STORE]) expect(await t.app.get<ConversationStore>(store).insertNew(big)).toBe(true);
    const before = await settledSnapshot();
    const over = 'x'.repeat(64 * 1024);
    expectErrorShape(await append(1, big.id, over), 422, 'CONVERSATION_TOO_LARGE');
    expectErrorShape(await append(0, big.id, over, {}), 422, 'CONVERSATION_TOO_LARGE');
    expect(await settledSnapshot()).toEqual(before);
    expectMinimal(await append(1, big.id, 'small'), big.id, big.messages.length + 1, 'small');
  });

  it('replays a keyed minimal append on the other process with its minimal answer', async () => {
    await t.setPhase('deprecation');
    const id = await created(5);
    const headers = { ...MINIMAL, 'idempotency-key': `minimal-${Date.now()}` };
    const first = await append(0, id, 'once', headers);
    expectMinimal(first, id, 6, 'once');
    expect((await append(1, id, 'later')).status).toBe(201);
    // The first answer in the form it had, also to a retry that does not repeat the preference.
    for (const again of [headers, { 'idempotency-key': headers['idempotency-key'] }]) {
      const replay = await append(1, id, 'once', again);
      expect(replay.status).toBe(201);
      expect(replay.headers.get('idempotent-replayed')).toBe('true');
      expect(replay.headers.get('preference-applied')).toBe('return=minimal');
      expect(replay.body).toEqual(first.body);
    }
    expect((await readNew(t, id))!.messages.filter((m) => m.content === 'once')).toHaveLength(1);
  });
});
