/**
 * PostgreSQL ends every session of a running deployment, again and again (what a restart, a failover or an
 * administrator's pg_terminate_backend does: FATAL 57P01 on each connection, idle or in the middle of a transaction),
 * while clients write through two API replicas and the worker runs. No process may die of it: a pg client that
 * meets that error with no 'error' listener (pg-pool takes its own off a client it hands out) makes Node end the
 * process. Each write is answered (acknowledged, or refused with a 503, never a 500), every acknowledged write is in
 * the source of truth, a retried request with the same Idempotency-Key gets the first answer, and every process
 * serves again once the sessions are left alone.
 *
 * Each retry is sent to the other replica once the first attempt is acknowledged: it finds the key taken, so the
 * idempotency bookkeeping checks a connection out of its pool and holds it over several statements, the window in
 * which the process used to die.
 */
import { isDeepStrictEqual } from 'node:util';
import type { Client } from 'pg';
import type { Phase } from '../src/model/phases';
import { APP_TOKEN } from './support/env';
import { FollowUpRig, startFollowUpRig } from './support/follow-ups';
import { endSessions, sessionKiller } from './support/pg-sessions';

const TERMINATE_EVERY_MS = 100;
const RUN_MS = Number(process.env.SESSIONS_ENDED_MS ?? 8000);
const CONVERSATIONS = 6;
const CLIENTS = 6;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('PostgreSQL ends every session again and again: no process dies, no acknowledged write is lost', () => {
  let rig: FollowUpRig;
  let admin: Client;

  beforeAll(async () => {
    rig = await startFollowUpRig('pg-sessions-ended', { MIGRATION_INITIAL_PHASE: 'rollout' });
    admin = await sessionKiller(rig.services.env.DATABASE_URL);
  }, 240_000);

  afterAll(async () => {
    await admin?.end().catch(() => undefined);
    await rig?.close();
  }, 120_000);

  async function post(replica: number, path: string, body: unknown, key: string): Promise<{ status: number; body: any }> {
    const r = rig.cluster.replicas[replica % rig.cluster.replicas.length];
    const res = await fetch(`${r.url}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${APP_TOKEN}`, 'content-type': 'application/json', 'idempotency-key': key },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
    return { status: res.status, body: (await res.json().catch(() => null)) as any };
  }

  it.each<[Phase]>([['rollout'], ['deprecation']])(
    'in %s',
    async (phase) => {
      if (phase !== 'rollout') {
        // Between runs, with nothing in flight; each replica's cached phase is at most a second old.
        await rig.ds.query('UPDATE migration_state SET phase = $1, revision = revision + 1 WHERE id = 1', [phase]);
        await sleep(1500);
      }
      const ids: string[] = [];
      for (let i = 0; i < CONVERSATIONS; i++) {
        const res = await post(i, '/conversations', { userId: `ended-${phase}`, title: `t${i}` }, `create-${phase}-${i}`);
        expect(res.status).toBe(201);
        ids.push(res.body.id);
      }

      let terminating = true;
      let terminated = 0;
      const terminator = (async () => {
        while (terminating) {
          terminated += await endSessions(admin);
          await sleep(TERMINATE_EVERY_MS);
        }
      })();

      const acked = new Map<string, string[]>(ids.map((id) => [id, []]));
      const statuses = new Map<number, number>();
      const replays = { answered: 0, different: [] as string[] };
      const count = (status: number) => statuses.set(status, (statuses.get(status) ?? 0) + 1);
      let writing = true;
      const clients = Array.from({ length: CLIENTS }, async (_, client) => {
        for (let n = 0; writing; n++) {
          const id = ids[(client + n) % ids.length];
          const text = `${phase}-c${client}-n${n}`;
          const key = `append-${text}`;
          const path = `/conversations/${id}/messages`;
          const first = await post(client + n, path, { role: 'user', content: text }, key).catch(() => ({ status: 0, body: null }));
          count(first.status);
          if (first.status !== 201) continue;
          acked.get(id)!.push(text);
          const again = await post(client + n + 1, path, { role: 'user', content: text }, key).catch(() => ({ status: 0, body: null }));
          count(again.status);
          if (again.status === 201) {
            replays.answered++;
            if (!isDeepStrictEqual(again.body, first.body)) replays.different.push(key);
          }
        }
      });
      await sleep(RUN_MS);
      terminating = false;
      await terminator;
      writing = false;
      await Promise.all(clients);

      const processes = [...rig.cluster.replicas, rig.cluster.worker];
      const died = processes.filter((p) => !p.alive).map((p) => `${p.name}:\n${p.output().slice(-2000)}`);
      expect(died).toEqual([]);
      console.log(JSON.stringify({ phase, terminated, statuses: Object.fromEntries(statuses), replays: replays.answered }));
      expect(terminated).toBeGreaterThan(20);
      expect(replays.answered).toBeGreaterThan(0);
      expect(replays.different).toEqual([]);
      // Answered or refused as unavailable; a request that failed on its way is never a 500. (0: no answer at all.)
      expect([...statuses.keys()].filter((s) => ![201, 503].includes(s)).sort()).toEqual([]);

      // Every replica writes again once the sessions are left alone.
      for (let r = 0; r < rig.cluster.replicas.length; r++) {
        const deadline = Date.now() + 20_000;
        let res = await post(
          r,
          `/conversations/${ids[0]}/messages`,
          { role: 'user', content: `after-${phase}-${r}` },
          `after-${phase}-${r}`,
        );
        while (res.status !== 201 && Date.now() < deadline) {
          await sleep(250);
          res = await post(r, `/conversations/${ids[0]}/messages`, { role: 'user', content: `after-${phase}-${r}` }, `after-${phase}-${r}`);
        }
        expect([r, res.status]).toEqual([r, 201]);
      }

      // Every acknowledged append is in the source of truth.
      const truth = phase === 'deprecation' ? rig.pg : rig.legacy;
      for (const [id, texts] of acked) {
        const c = await truth.get(id);
        const stored = new Set(c!.messages.map((m) => m.content));
        expect(texts.filter((t) => !stored.has(t))).toEqual([]);
      }
    },
    180_000,
  );
});
