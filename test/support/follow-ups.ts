/**
 * The rig of the tests in which legacy misbehaves while it follows the new store (deprecation): a private cluster
 * (two API replicas and a worker as processes on private servers, support/private-cluster.ts), clients that write to
 * shared conversations through both replicas and note what was acknowledged, and the checks at the end: every
 * acknowledged write is in the source of truth, and legacy ends up equal to it with no follow-up left.
 */
import { MongoClient } from 'mongodb';
import type { Client } from 'pg';
import { canonicalJson } from '../../src/model/canonical';
import { MongoLegacyStore } from '../../src/stores/mongo/mongo-legacy.store';
import { PostgresConversationStore } from '../../src/stores/postgres/postgres-conversation.store';
import type { ConversationStore } from '../../src/stores/conversation-store.port';
import type { Cluster } from './history/cluster';
import { sessionKiller } from './pg-sessions';
import { PrivateCluster, startPrivateCluster } from './private-cluster';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface FollowUpRig extends PrivateCluster {
  /** The new store and legacy as the test sees them (not through the API). */
  pg: PostgresConversationStore;
  legacy: MongoLegacyStore;
}

/** `name`: the build folder under .local; `env`: on top of deprecation for every process. */
export async function startFollowUpRig(name: string, env: Record<string, string>): Promise<FollowUpRig> {
  const rig = await startPrivateCluster(name, { MIGRATION_INITIAL_PHASE: 'deprecation', ...env });
  let mongo: MongoClient | undefined;
  const close = async () => {
    await mongo?.close().catch(() => undefined);
    await rig.close();
  };
  try {
    const url = rig.services.env.LEGACY_MONGO_URL;
    mongo = await MongoClient.connect(url, { serverSelectionTimeoutMS: 5000 });
    const legacy = new MongoLegacyStore(mongo.db(new URL(url).pathname.slice(1)), 'conversations');
    return { ...rig, pg: new PostgresConversationStore(rig.ds), legacy, close };
  } catch (err) {
    await close().catch(() => undefined);
    throw err;
  }
}

/** Acknowledged appends (by text) and the newest acknowledged version, per conversation. */
export type Acknowledged = Map<string, { version: number; texts: Set<string> }>;

export interface Writers {
  /** Stops the clients once their writes in flight are answered. */
  stop(): Promise<void>;
  acked: Acknowledged;
  /** What was not acknowledged (status, code, message), the first 20. */
  refused: string[];
  writes: number;
  /** Writes sent while `during()` said so. */
  writesDuring: number;
  /** Writes sent and not answered yet. */
  inFlight: number;
}

/**
 * `clients` clients write until stopped, each in turn to the conversations `ids` (an append, every fifth a patch of
 * the metadata), through the replicas in turn (those numbered in `through`, by default all), 20 ms apart; a client
 * gives a request up after `timeoutMs`.
 */
export function startWriters(
  cluster: Cluster,
  ids: string[],
  clients: number,
  during: () => boolean,
  timeoutMs = 20_000,
  through: number[] = cluster.replicas.map((_, i) => i),
): Writers {
  const w: Writers = {
    acked: new Map(ids.map((id) => [id, { version: 1, texts: new Set<string>() }])),
    refused: [],
    writes: 0,
    writesDuring: 0,
    inFlight: 0,
    stop: async () => {
      running = false;
      await Promise.all(loops);
    },
  };
  let running = true;
  const loops = Array.from({ length: clients }, async (_, client) => {
    for (let n = 0; running; n++) {
      const id = ids[(client * 7 + n * 5) % ids.length];
      const patch = n % 5 === 4;
      const text = `c${client}-n${n}`;
      if (during()) w.writesDuring++;
      w.inFlight++;
      const replica = through[(client + n) % through.length];
      const res = await (
        patch
          ? cluster.request(replica, 'PATCH', `/conversations/${id}`, { metadata: { by: text } }, undefined, timeoutMs)
          : cluster.request(replica, 'POST', `/conversations/${id}/messages`, { role: 'user', content: text }, undefined, timeoutMs)
      ).catch((err: Error) => ({ status: 0, body: { code: err.message } }));
      w.inFlight--;
      w.writes++;
      if (res.status === 200 || res.status === 201) {
        const a = w.acked.get(id)!;
        a.version = Math.max(a.version, res.body.version);
        if (!patch) a.texts.add(text);
      } else if (w.refused.length < 20) w.refused.push(`${res.status} ${res.body?.code ?? ''} ${res.body?.message ?? ''}`.trim());
      await sleep(20);
    }
  });
  return w;
}

/** Every acknowledged write is in `store` (the source of truth, or one that caught up): its version reached, every append there. */
/**
 * `clients` writers on `ids` (startWriters, a minute's patience per request), then `flip` sent a second later while
 * they go on, and stopped a second after it answered; what the flip answered, how long it took and what the
 * writers saw are logged (one JSON line) and returned.
 */
export async function flipWhileWriting<R extends { status: number; body?: { code?: string; message?: string } }>(
  cluster: Cluster,
  ids: string[],
  clients: number,
  flip: () => Promise<R>,
): Promise<{ answer: R; tookMs: number; writers: Writers }> {
  const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
  let flipping = false;
  const writers = startWriters(cluster, ids, clients, () => flipping, 60_000);
  await pause(1000);
  flipping = true;
  const sent = Date.now();
  const answer = await flip();
  const tookMs = Date.now() - sent;
  flipping = false;
  await pause(1000);
  await writers.stop();
  const { status, body } = answer;
  console.log(
    JSON.stringify({
      answer: { status, code: body?.code, message: body?.message },
      tookMs,
      writes: writers.writes,
      duringFlip: writers.writesDuring,
      notAcknowledged: writers.refused,
    }),
  );
  return { answer, tookMs, writers };
}

export async function expectAcknowledgedIn(store: Pick<ConversationStore, 'get'>, acked: Acknowledged): Promise<void> {
  for (const [id, a] of acked) {
    const c = (await store.get(id))!;
    expect(c.version).toBeGreaterThanOrEqual(a.version);
    const texts = new Set(c.messages.map((m) => m.content));
    expect([...a.texts].filter((t) => !texts.has(t))).toEqual([]);
  }
}

/** Waits (at most `timeoutMs`) until no follow-up is left and legacy equals the new store, in canonical form, for `ids`. */
export async function expectLegacyCaughtUp(rig: FollowUpRig, ids: string[], timeoutMs = 180_000): Promise<void> {
  const caughtUp = async () => {
    const [{ n }] = await rig.ds.query('SELECT count(*)::int AS n FROM repair_outbox');
    if (n !== 0) return false;
    for (const id of ids) {
      const [l, p] = await Promise.all([rig.legacy.get(id), rig.pg.get(id)]);
      if (!l || !p || canonicalJson(l) !== canonicalJson(p)) return false;
    }
    return true;
  };
  const deadline = Date.now() + timeoutMs;
  while (!(await caughtUp().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`legacy did not catch up with the new store within ${timeoutMs} ms`);
    await sleep(500);
  }
}

/**
 * The legacy application's own write to `id` (one message, `v` + 1, `updated`), straight to legacy: only a catch-up
 * pass or a repair brings it over. Returns the conversation as written.
 */
export async function legacyApplicationWrite(rig: FollowUpRig, id: string) {
  const before = (await rig.legacy.get(id))!;
  const at = new Date(Math.max(Date.now(), before.updatedAt.getTime() + 1));
  const changed = {
    ...before,
    messages: [...before.messages, { role: 'user' as const, content: 'written by the legacy application', createdAt: at }],
    updatedAt: at,
    version: before.version + 1,
  };
  expect(await rig.legacy.update(changed, before.version, 'append')).toBe(true);
  return changed;
}

/** A session of the test's that locks the row of `id` in an open transaction, as a sync batch frozen in its own would. */
export async function lockConversationRow(rig: FollowUpRig, id: string): Promise<Client> {
  const holder = await sessionKiller(rig.services.env.DATABASE_URL);
  await holder.query('BEGIN');
  await holder.query('SELECT 1 FROM conversations WHERE id = $1 FOR UPDATE', [id]);
  return holder;
}
