/**
 * Issue 19, item 1: input the SPEC allows or refuses never answers 500. Each case here answered 500 before
 * the schema-first input and the classified store refusals:
 * - metadata the legacy dev server cannot store (arrays of arrays) on create and patch, with legacy the
 *   source of truth and with the new store the source of truth (legacy follows): a 4xx naming the store
 *   and the field, and nothing written anywhere (neither store, no follow-up, no idempotency record);
 * - a NUL character in an operator's text (PostgreSQL refuses U+0000): 400 naming the field, nothing audited.
 */
import { OPERATOR_TOKEN } from './support/env';
import { startTestApp, TestApp, TestResponse } from './support/app';
import { Replicas, startReplicas } from './support/replicas';
import { expectErrorShape, expectSameSnapshot, followUpsSettled, snapshotStores } from './support/stores';
import type { Phase } from '../src/model/phases';

let t: TestApp;

beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => t?.close());

async function sideTables(): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const table of ['repair_outbox', 'idempotency_keys', 'migration_audit', 'verification_runs', 'rate_limit_overrides']) {
    const exists = await t.pg.query('SELECT to_regclass($1) AS t', [table]);
    if (!exists.rows[0].t) continue;
    counts[table] = Number((await t.pg.query(`SELECT count(*) AS n FROM ${table}`)).rows[0].n);
  }
  return counts;
}

/** Sends, checks the answer (first, so a 500 shows as such), then that neither store nor a side table changed. */
async function refusedWithoutWriting(send: () => Promise<TestResponse>, status: number, code: string): Promise<Record<string, any>> {
  const [stores, tables] = [await snapshotStores(t), await sideTables()];
  const body = expectErrorShape(await send(), status, code);
  expectSameSnapshot(await snapshotStores(t), stores);
  expect(await sideTables()).toEqual(tables);
  return body;
}

describe('a document the legacy store refuses (the dev server cannot store arrays of arrays)', () => {
  const grid = {
    grid: [
      [1, 2],
      [3, 4],
    ],
  };

  for (const phase of ['not_started', 'shadow', 'rollout', 'deprecation'] as Phase[]) {
    it(`is a 422 STORE_REFUSED naming the store and the field in ${phase}, on create and patch, and writes nothing`, async () => {
      await t.setPhase(phase);
      const created = await t.request('POST', '/conversations', { body: { userId: `grid-${phase}`, metadata: { ok: [1, 2] } } });
      expect(created.status).toBe(201);
      await followUpsSettled(t, created.body.id);

      const body = await refusedWithoutWriting(
        () =>
          t.request('POST', '/conversations', {
            body: { userId: `grid-${phase}`, metadata: grid },
            headers: { 'idempotency-key': `grid-${phase}` },
          }),
        422,
        'STORE_REFUSED',
      );
      expect(body.errors).toEqual([{ field: 'metadata.grid', message: expect.stringMatching(/legacy store.*arrays of arrays/) }]);
      expect(body.message).toMatch(/legacy store/);

      const patch = await refusedWithoutWriting(
        () => t.request('PATCH', `/conversations/${created.body.id}`, { body: { metadata: { deep: grid } } }),
        422,
        'STORE_REFUSED',
      );
      expect(patch.errors).toEqual([{ field: 'metadata.deep.grid', message: expect.any(String) }]);

      const after = await t.request('GET', `/conversations/${created.body.id}`);
      expect(after.body).toMatchObject({ version: 1, metadata: { ok: [1, 2] } });
    });
  }
});

describe('a NUL character in an operator text (PostgreSQL refuses U+0000)', () => {
  const op = (method: string, path: string, body: unknown) => t.request(method, path, { body, token: OPERATOR_TOKEN });
  const NUL = 'before\u0000after';

  const cases: Array<[string, Phase, string, Record<string, unknown>]> = [
    ['start', 'not_started', '/migration/start', { reason: NUL }],
    ['forced advance', 'shadow', '/migration/advance', { reason: NUL, force: true }],
    ['rollback', 'canary', '/migration/rollback', { reason: NUL }],
    ['pause', 'shadow', '/migration/pause', { reason: NUL }],
    ['resume', 'shadow', '/migration/resume', { reason: NUL }],
    ['sync pause', 'shadow', '/migration/sync/pause', { reason: NUL }],
    ['verify', 'shadow', '/migration/verify', { reason: NUL }],
    ['rate-limit override', 'shadow', '/migration/rate-limits/someone', { rps: 5, reason: NUL }],
  ];

  it('is a 400 naming the field in a query too: the shadow mismatches path filter (PostgreSQL LIKE refused the NUL)', async () => {
    const res = await t.request('GET', '/migration/shadow/mismatches?path=a%00b', { token: OPERATOR_TOKEN });
    expect(expectErrorShape(res, 400, 'VALIDATION_FAILED').errors).toEqual([
      { field: 'path', message: 'contains a NUL character at index 1' },
    ]);
  });

  for (const [name, phase, path, body] of cases) {
    it(`is a 400 naming the field on ${name}, and changes nothing`, async () => {
      await t.setPhase(phase);
      const before = (await t.pg.query('SELECT phase, revision FROM migration_state WHERE id = 1')).rows[0];
      const err = await refusedWithoutWriting(
        () => op(path.includes('rate-limits') ? 'PUT' : 'POST', path, body),
        400,
        'VALIDATION_FAILED',
      );
      expect(err.errors).toEqual([{ field: 'reason', message: 'contains a NUL character at index 6' }]);
      expect((await t.pg.query('SELECT phase, revision FROM migration_state WHERE id = 1')).rows[0]).toEqual(before);
    });
  }
});

describe('concurrent starts, half through each of two API processes', () => {
  let replicas: Replicas;
  beforeAll(async () => {
    replicas = await startReplicas(t, 'no-server-errors');
  }, 120_000);
  afterAll(async () => replicas?.stop(), 60_000);

  describe('concurrent verification starts (found by the fuzzer: a unique-index race answered 500)', () => {
    it('answers each start 202 or 409 VERIFICATION_RUNNING, even when the run that won is over before the loser looks', async () => {
      await t.setPhase('shadow');
      const op = (i: number) => replicas.request(i, 'POST', '/migration/verify', { body: {}, token: OPERATOR_TOKEN });
      // Stands in for a worker that finishes each run at once (an empty store is verified in milliseconds).
      let finishing = true;
      const finisher = (async () => {
        while (finishing) {
          await t.pg.query(`UPDATE verification_runs SET status = 'completed', finished_at = now() WHERE status IN ('queued', 'running')`);
          await new Promise((r) => setTimeout(r, 1));
        }
      })();
      try {
        const statuses: number[] = [];
        for (let round = 0; round < 15; round++)
          statuses.push(...(await Promise.all(Array.from({ length: 6 }, (_, i) => op(i)))).map((r) => r.status));
        expect(statuses.filter((s) => s !== 202 && s !== 409)).toEqual([]);
      } finally {
        finishing = false;
        await finisher;
      }
    });
  });

  describe('concurrent backfill starts (the same race as verification starts)', () => {
    it('answers each start 202, even when the run that kept it from inserting is over before it looks', async () => {
      await t.setPhase('shadow');
      let finishing = true;
      const finisher = (async () => {
        while (finishing) {
          await t.pg.query(`UPDATE sync_runs SET status = 'completed', finished_at = now() WHERE status = 'running'`);
          await new Promise((r) => setTimeout(r, 1));
        }
      })();
      try {
        const statuses: number[] = [];
        for (let round = 0; round < 10; round++) {
          const answers = await Promise.all(
            Array.from({ length: 4 }, (_, i) => replicas.request(i, 'POST', '/migration/sync/backfill', { token: OPERATOR_TOKEN })),
          );
          statuses.push(...answers.map((r) => r.status));
        }
        expect(statuses.filter((s) => s !== 202 && s !== 409)).toEqual([]);
      } finally {
        finishing = false;
        await finisher;
      }
    });
  });
});
