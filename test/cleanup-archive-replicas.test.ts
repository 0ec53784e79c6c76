/**
 * One archive run at a time, whatever the number of API replicas: operators (or a retrying script) asking two
 * replicas at once to archive the legacy collection get the same run, and the table holds one run that is queued
 * or running. Two API replicas and a worker as processes on private servers (support/private-cluster.ts), in
 * cleanup, archiving to a directory.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { DataSource } from 'typeorm';
import { OPERATOR_TOKEN } from './support/env';
import type { Cluster } from './support/history/cluster';
import { PrivateCluster, startPrivateCluster } from './support/private-cluster';

const REQUESTS = 16;
const ROUNDS = 20;

describe('archive runs across API replicas', () => {
  let rig: PrivateCluster;
  let cluster: Cluster;
  let ds: DataSource;
  let archiveDir: string;

  beforeAll(async () => {
    archiveDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lms-archive-replicas-'));
    rig = await startPrivateCluster('cleanup-archive-replicas', {
      MIGRATION_INITIAL_PHASE: 'cleanup',
      ARCHIVE_DIR: archiveDir,
      // Twenty rounds of sixteen operator requests at once: more than an operator's rate allows.
      RATE_LIMIT_OPERATOR_RPS: '0',
    });
    ({ cluster, ds } = rig);
  }, 240_000);

  afterAll(async () => {
    await rig?.close();
    fs.rmSync(archiveDir, { recursive: true, force: true });
  }, 120_000);

  it('answers simultaneous requests on both replicas with one run, round after round', async () => {
    // With the worker stopped, a run stays queued: each round must find exactly one.
    await cluster.worker.stop();
    const created: number[] = [];
    let last = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const answers = await Promise.all(
        Array.from({ length: REQUESTS }, (_, i) => cluster.request(i, 'POST', '/migration/cleanup/archive', {}, OPERATOR_TOKEN)),
      );
      expect(answers.map((a) => a.status)).toEqual(answers.map(() => 202));
      const [{ active }] = await ds.query(
        `SELECT count(*)::int AS active FROM cleanup_archives WHERE state IN ('queued', 'archiving', 'verifying')`,
      );
      created.push(new Set(answers.map((a) => a.body.id)).size);
      expect({ round, active }).toEqual({ round, active: 1 });
      last = answers[0].body.id;
      // The run ends (as a failed one would), so that the next round asks for a new one; the last one goes on.
      if (round < ROUNDS - 1)
        await ds.query(`UPDATE cleanup_archives SET state = 'failed', error = 'ended by the test' WHERE id = $1`, [last]);
    }
    expect(created).toEqual(created.map(() => 1));

    // The worker back: the run left queued is archived and verified; the ended ones stay as they are.
    await cluster.worker.start();
    const deadline = Date.now() + 60_000;
    let state = '';
    while (Date.now() < deadline && state !== 'verified' && state !== 'failed') {
      state = (await cluster.request(0, 'GET', `/migration/cleanup/archives/${last}`, undefined, OPERATOR_TOKEN)).body.state;
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(state).toBe('verified');
    const [{ runs, verified }] = await ds.query(
      `SELECT count(*)::int AS runs, count(*) FILTER (WHERE state = 'verified')::int AS verified FROM cleanup_archives`,
    );
    expect({ runs, verified }).toEqual({ runs: ROUNDS, verified: 1 });
  }, 180_000);
});
