/**
 * SPEC section 5 under load: 20 concurrent clients make 1,000 updates and appends in total to the same
 * 10 conversations (PATCH title, PATCH metadata, POST messages; some pinned with If-Match, whose 412s
 * are expected). Then, once the repair queue is drained by a real worker, both stores must be identical
 * in canonical form and hold exactly what was acknowledged: the highest acknowledged version, every
 * acknowledged append once and in version order, the title and metadata of the last acknowledged patch.
 * Run once with legacy as the source of truth (`shadow`) and once with the new store (`deprecation`).
 *
 * The clients go through two API processes on the same stores (support/replicas.ts), as a deployment's
 * replicas do: each write through one replica, the read that pins its version through the other. The in-process test
 * app is only the test's handle on those stores (its phase, its reads of both stores).
 */
import { INestApplicationContext } from '@nestjs/common';
import { RepairQueue } from '../src/repair/repair-queue';
import { RequestOptions, startTestApp, TestApp, TestResponse } from './support/app';
import { isolatedRedis } from './support/env';
import { Replicas, startReplicas } from './support/replicas';
import { deadRepairsFor, startRepairWorker, waitForRepairsDrained } from './support/repair-worker';
import { expectCurrentLegacyFormat, expectStoresAgree, legacyRaw } from './support/stores';

const CLIENTS = 20;
const OPERATIONS = 1000;
const CONVERSATIONS = 10;
const SEED = 20261126;
const INITIAL_MESSAGES = ['hello'];

/** mulberry32: a small seeded generator, so a failing mix of operations can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

type Write =
  { kind: 'title'; title: string } | { kind: 'metadata'; metadata: Record<string, unknown> } | { kind: 'append'; content: string };
type Ack = Write & { version: number };

interface Ledger {
  acks: Ack[];
  conflicts: number;
  unexpected: Array<{ op: number; status: number; body: unknown }>;
}

/** The replicas' phase cache (the production default): a phase set in the database reaches them within it. */
const MODE_CACHE_TTL_MS = 1000;

let t: TestApp;
let replicas: Replicas;
let worker: INestApplicationContext;
let queue: RepairQueue;

beforeAll(async () => {
  t = await startTestApp({ ...isolatedRedis() });
  replicas = await startReplicas(t, 'conversations-concurrency', 2, { MODE_CACHE_TTL_MS: String(MODE_CACHE_TTL_MS) });
  worker = await startRepairWorker(t.config);
  queue = t.app.get(RepairQueue);
}, 180_000);
afterAll(async () => {
  await replicas?.stop();
  await worker?.close();
  await t?.close();
}, 60_000);

/** One request through API replica `replica` of the two (processes 1 and 2; the test app is not one of them). */
const request = (replica: number, method: string, p: string, options?: RequestOptions) =>
  replicas.request(1 + (replica % 2), method, p, options);

async function runLoad(phase: string, ids: string[]): Promise<Map<string, Ledger>> {
  const random = prng(SEED);
  const ledgers = new Map(ids.map((id): [string, Ledger] => [id, { acks: [], conflicts: 0, unexpected: [] }]));
  // The whole plan is drawn up front from the seed, so it does not depend on how the clients interleave.
  const plan = Array.from({ length: OPERATIONS }, (_, op) => ({
    op,
    id: ids[Math.floor(random() * ids.length)],
    kind: random() < 0.5 ? 'append' : random() < 0.6 ? 'title' : 'metadata',
    pinned: random() < 0.3,
  }));
  let next = 0;

  const client = async (clientNo: number) => {
    while (next < plan.length) {
      const { op, id, kind, pinned } = plan[next++];
      const ledger = ledgers.get(id)!;
      const headers: Record<string, string> = {};
      if (pinned) {
        // Read-modify-write: pin the version just read, as a careful client would.
        const current = await request(op + 1, 'GET', `/conversations/${id}`);
        if (current.status !== 200) {
          ledger.unexpected.push({ op, status: current.status, body: current.body });
          continue;
        }
        headers['if-match'] = current.headers.get('etag')!;
      }
      const tag = `${phase}-c${clientNo}-op${op}`;
      let res: TestResponse;
      let ack: Write;
      if (kind === 'append') {
        res = await request(op, 'POST', `/conversations/${id}/messages`, {
          body: { role: op % 2 ? 'user' : 'assistant', content: tag },
          headers,
        });
        ack = { kind: 'append', content: tag };
      } else if (kind === 'title') {
        res = await request(op, 'PATCH', `/conversations/${id}`, { body: { title: tag }, headers });
        ack = { kind: 'title', title: tag };
      } else {
        const metadata = { op, client: clientNo, nested: { tag, list: [op, clientNo] } };
        res = await request(op, 'PATCH', `/conversations/${id}`, { body: { metadata }, headers });
        ack = { kind: 'metadata', metadata };
      }
      const expectedStatus = kind === 'append' ? 201 : 200;
      if (res.status === expectedStatus) {
        expect(res.headers.get('etag')).toBe(`"${res.body.version}"`);
        ledger.acks.push({ ...ack, version: res.body.version });
      } else if (pinned && res.status === 412 && res.body?.code === 'VERSION_CONFLICT') {
        ledger.conflicts++;
      } else {
        ledger.unexpected.push({ op, status: res.status, body: res.body });
      }
    }
  };
  await Promise.all(Array.from({ length: CLIENTS }, (_, i) => client(i)));
  return ledgers;
}

async function checkOutcome(id: string, ledger: Ledger, initialMessages: string[]): Promise<void> {
  const stored = await expectStoresAgree(t, id);
  expectCurrentLegacyFormat(await legacyRaw(t, id));

  const acks = [...ledger.acks].sort((a, b) => a.version - b.version);
  const versions = acks.map((a) => a.version);
  // Every acknowledged write got its own version: no two clients were told they made the same one.
  expect(new Set(versions).size).toBe(versions.length);
  const highest = Math.max(1, ...versions);
  expect(stored.version).toBe(highest);
  // Nothing was written that was not acknowledged, and nothing acknowledged was lost.
  expect(stored.version).toBe(1 + acks.length);

  const appended = acks.filter((a): a is Extract<Ack, { kind: 'append' }> => a.kind === 'append').map((a) => a.content);
  expect(stored.messages).toHaveLength(initialMessages.length + appended.length);
  expect(stored.messages.map((m) => m.content)).toEqual([...initialMessages, ...appended]);
  for (let i = 1; i < stored.messages.length; i++) expect(stored.messages[i].createdAt >= stored.messages[i - 1].createdAt).toBe(true);

  const lastTitle = acks.filter((a) => a.kind === 'title').pop();
  expect(stored.title).toBe(lastTitle && lastTitle.kind === 'title' ? lastTitle.title : 'initial');
  const lastMetadata = acks.filter((a) => a.kind === 'metadata').pop();
  expect(stored.metadata).toEqual(lastMetadata && lastMetadata.kind === 'metadata' ? lastMetadata.metadata : { initial: true });

  for (const replica of [0, 1]) {
    const viaApi = await request(replica, 'GET', `/conversations/${id}`);
    expect(viaApi.status).toBe(200);
    expect(viaApi.headers.get('etag')).toBe(`"${highest}"`);
    expect(viaApi.body.version).toBe(highest);
  }
}

describe.each(['shadow', 'deprecation'] as const)('concurrent writers, phase %s', (phase) => {
  const ids: string[] = [];
  let ledgers: Map<string, Ledger> | undefined;

  it(`${CLIENTS} clients, ${OPERATIONS} writes to ${CONVERSATIONS} conversations: each acknowledged, or 412 when pinned to a stale version`, async () => {
    await t.setPhase(phase);
    // Past the replicas' phase cache, so that every write of the load is made in `phase`.
    await new Promise((resolve) => setTimeout(resolve, 2 * MODE_CACHE_TTL_MS));
    for (let i = 0; i < CONVERSATIONS; i++) {
      const res = await request(i, 'POST', '/conversations', {
        body: {
          userId: `${phase}-user-${i % 3}`,
          title: 'initial',
          metadata: { initial: true },
          messages: [{ role: 'user', content: INITIAL_MESSAGES[0] }],
        },
      });
      expect(res.status).toBe(201);
      ids.push(res.body.id);
    }
    ledgers = await runLoad(phase, ids);

    const all = [...ledgers.values()];
    // Writes without If-Match are never refused for contention (SPEC section 2 has no 409 for them);
    // only pinned writes may get 412.
    const unexpectedByStatus = all
      .flatMap((l) => l.unexpected)
      .reduce<Record<string, number>>((n, u) => {
        const key = `${u.status} ${(u.body as { code?: string } | undefined)?.code ?? ''}`;
        return { ...n, [key]: (n[key] ?? 0) + 1 };
      }, {});
    expect(unexpectedByStatus).toEqual({});
    const acknowledged = all.reduce((n, l) => n + l.acks.length, 0);
    const conflicts = all.reduce((n, l) => n + l.conflicts, 0);
    expect(acknowledged + conflicts).toBe(OPERATIONS);
    expect(acknowledged).toBeGreaterThan(OPERATIONS / 2);
  }, 120000);

  it('once the repair queue is drained, both stores are identical and hold exactly what was acknowledged', async () => {
    expect(ledgers).toBeDefined();
    await waitForRepairsDrained(queue, 30000);
    expect(await deadRepairsFor(queue, ids)).toEqual([]);
    for (const id of ids) await checkOutcome(id, ledgers!.get(id)!, INITIAL_MESSAGES);
  }, 60000);
});
