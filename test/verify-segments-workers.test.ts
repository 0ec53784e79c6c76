/**
 * One verification run walked by two worker processes at once: the run's walk is split into `_id` segments, the
 * worker that holds the run asks for helpers, and the other worker walks segments beside it. Whichever of them is
 * killed in the middle of a segment, the other takes that segment over from its committed cursor once its lease
 * has run out (and, for the run's own holder, the run too), and the report is exact: every planted difference, no
 * other, every record compared once. Two API replicas and two workers as processes on private servers
 * (support/private-cluster.ts).
 */
import { MongoClient, ObjectId } from 'mongodb';
import type { DataSource } from 'typeorm';
import type { Conversation } from '../src/model/conversation.model';
import { toLegacy } from '../src/model/legacy-transform';
import { sampleConversation } from '../src/model/testing/fixtures';
import { PostgresConversationStore } from '../src/stores/postgres/postgres-conversation.store';
import { OPERATOR_TOKEN } from './support/env';
import type { Cluster, NodeProcess } from './support/history/cluster';
import { PrivateCluster, startPrivateCluster } from './support/private-cluster';
import { waitFor } from './support/stores';

const RECORDS = 4000;
const SEGMENTS = 8;
/** Longer than a segment's lease (30 s) runs out, plus the walk. */
const RUN_TIMEOUT_MS = 150_000;

const idOf = (n: number) => `6a${n.toString(16).padStart(22, '0')}`;
const conversation = (n: number): Conversation =>
  sampleConversation({ id: idOf(n), userId: `user-${n % 11}`, title: `conversation ${n}`, metadata: { n } });

const MISSING = [3, 1001, 2002, 3003, 3999];
const DIFFERENT = [10, 1500, 2500, 3500];
const EXTRA = [RECORDS + 1, RECORDS + 2, RECORDS + 3];

interface LiveClaim {
  segment: number;
  claimed_by: string;
}

describe('a verification run walked by two worker processes', () => {
  let rig: PrivateCluster;
  let cluster: Cluster;
  let ds: DataSource;
  let mongo: MongoClient;

  beforeAll(async () => {
    rig = await startPrivateCluster('verify-segments', { RATE_LIMIT_OPERATOR_RPS: '0' }, 2, 2);
    ({ cluster, ds } = rig);
    const url = rig.services.env.LEGACY_MONGO_URL;
    mongo = await MongoClient.connect(url, { serverSelectionTimeoutMS: 5000 });
    const legacy = mongo.db(new URL(url).pathname.slice(1)).collection('conversations');
    const cs = Array.from({ length: RECORDS }, (_, i) => conversation(i));
    for (let i = 0; i < cs.length; i += 500) {
      await legacy.insertMany(cs.slice(i, i + 500).map((c) => ({ ...toLegacy(c), _id: new ObjectId(c.id) })));
    }
    const pg = new PostgresConversationStore(ds);
    for (let i = 0; i < cs.length; i += 500) await pg.putMany(cs.slice(i, i + 500));
    await ds.query('DELETE FROM conversations WHERE id = ANY($1)', [MISSING.map(idOf)]);
    for (const n of DIFFERENT) await legacy.updateOne({ _id: new ObjectId(idOf(n)) }, { $set: { title: 'edited in legacy only' } });
    await pg.putMany(EXTRA.map(conversation));
    await ds.query('ANALYZE conversations');
  }, 300_000);

  afterAll(async () => {
    await mongo?.close().catch(() => undefined);
    await rig?.close();
  }, 120_000);

  const op = (replica: number, method: string, p: string, body?: unknown) => cluster.request(replica, method, p, body, OPERATOR_TOKEN);

  /** The live claims on the run's unfinished segments. */
  const liveClaims = async (runId: number): Promise<LiveClaim[]> =>
    ds.query(
      `SELECT segment, claimed_by FROM verification_segments WHERE run_id = $1 AND NOT done AND lease_until > now() ORDER BY segment`,
      [runId],
    );

  const pidOf = (worker: string) => Number(worker.split(':')[1]);

  /** Starts a run and waits until both workers walk a segment of it; returns the run's holder and the other claim. */
  async function startWalkedByTwo(): Promise<{ runId: number; holder: string; claims: LiveClaim[] }> {
    const started = await op(0, 'POST', '/migration/verify', { segments: SEGMENTS, chunkSize: 50, pauseMs: 150, recheckDelayMs: 100 });
    expect(started.status).toBe(202);
    const runId: number = started.body.id;
    let claims: LiveClaim[] = [];
    await waitFor(
      'both workers walking a segment',
      async () => {
        claims = await liveClaims(runId);
        return new Set(claims.map((c) => c.claimed_by)).size === 2;
      },
      60_000,
      50,
    ).catch(async (err: Error) => {
      const state = {
        run: await ds.query('SELECT status, phase, claimed_by, chunks_done, records_compared, error FROM verification_runs WHERE id = $1', [
          runId,
        ]),
        segments: await ds.query('SELECT * FROM verification_segments WHERE run_id = $1 ORDER BY segment', [runId]),
      };
      throw new Error(`${err.message}; the run and its segments: ${JSON.stringify(state)}`);
    });
    const [{ claimed_by: holder }] = await ds.query('SELECT claimed_by FROM verification_runs WHERE id = $1', [runId]);
    return { runId, holder, claims };
  }

  const workerWithPid = (pid: number): NodeProcess => cluster.workers.find((w) => w.child?.pid === pid)!;

  async function finishedExactly(runId: number, killed: { segment: number; worker: string }): Promise<void> {
    let report: any;
    await waitFor(
      `run ${runId} to finish`,
      async () => {
        report = (await op(1, 'GET', `/migration/verify/${runId}?limit=100`)).body;
        return report.status === 'completed' || report.status === 'failed';
      },
      RUN_TIMEOUT_MS,
      500,
    );
    expect({ status: report.status, error: report.error }).toEqual({ status: 'completed', error: null });
    expect(report.totals).toEqual({
      missing: MISSING.length,
      extra: EXTRA.length,
      different: DIFFERENT.length,
      unreadable: 0,
      repaired: 0,
      pendingRecheck: 0,
    });
    const byKind = (kind: string) => report.differences.items.filter((d: any) => d.kind === kind).map((d: any) => d.conversationId);
    expect(byKind('missing')).toEqual(MISSING.map(idOf));
    expect(byKind('different')).toEqual(DIFFERENT.map(idOf));
    expect(byKind('extra')).toEqual(EXTRA.map(idOf));
    // Every record once: a chunk commits with its segment's cursor, so a taken-over segment resumes after it.
    expect(report.progress.recordsCompared).toBe(RECORDS + EXTRA.length);
    expect(report.progress.segments).toMatchObject({ total: SEGMENTS, done: SEGMENTS, active: 0 });
    const segments: Array<{ segment: number; claimed_by: string; walks: number; records_compared: string }> = await ds.query(
      'SELECT segment, claimed_by, walks, records_compared FROM verification_segments WHERE run_id = $1 ORDER BY segment',
      [runId],
    );
    expect(segments.reduce((n, s) => n + Number(s.records_compared), 0)).toBe(RECORDS + EXTRA.length);
    const taken = segments.find((s) => s.segment === killed.segment)!;
    expect(taken.walks).toBeGreaterThanOrEqual(2);
    expect(taken.claimed_by).not.toBe(killed.worker);
  }

  it('goes on when the helper is killed in the middle of a segment: the holder walks that segment on', async () => {
    const { runId, holder, claims } = await startWalkedByTwo();
    const victim = claims.find((c) => c.claimed_by !== holder)!;
    const process = workerWithPid(pidOf(victim.claimed_by));
    expect(process).toBeDefined();
    await process.stop('SIGKILL');
    await finishedExactly(runId, { segment: victim.segment, worker: victim.claimed_by });
    await process.start();
  }, 300_000);

  it("goes on when the run's holder is killed in the middle of a segment: the other worker takes the run over", async () => {
    const { runId, holder, claims } = await startWalkedByTwo();
    const victim = claims.find((c) => c.claimed_by === holder)!;
    const process = workerWithPid(pidOf(holder));
    expect(process).toBeDefined();
    await process.stop('SIGKILL');
    await finishedExactly(runId, { segment: victim.segment, worker: holder });
    const [run] = await ds.query('SELECT claimed_by, attempts FROM verification_runs WHERE id = $1', [runId]);
    expect(run.attempts).toBeGreaterThanOrEqual(2);
    await process.start();
  }, 300_000);
});
