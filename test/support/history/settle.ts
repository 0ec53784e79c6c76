/**
 * The end of a run, through the operator API as an operator would do it: let the repair queue drain,
 * run a verification with repair and wait for its report, then read the phase and both stores directly.
 */
import { MongoClient } from 'mongodb';
import { Client } from 'pg';
import type { Cluster } from './cluster';
import { FinalState, readLegacy, readPostgres, StoreName } from './final-state';
import { operatorCall as operator, until } from './operator';

export interface Settlement {
  repairsDrainedMs: number;
  repairCounts: Record<string, number>;
  verification: { id: number; status: string; clean: boolean; totals: Record<string, number>; error: string | null; elapsedMs: number };
}

export async function settle(cluster: Cluster): Promise<Settlement> {
  const t0 = Date.now();
  const repairCounts = await until('the repair queue to drain', 45_000, async () => {
    const res = await operator(cluster, 'GET', '/migration/repairs?limit=1');
    if (res.status !== 200) return undefined;
    const c = res.body.counts as Record<string, number>;
    return (c.waiting ?? 0) + (c.active ?? 0) + (c.delayed ?? 0) === 0 ? c : undefined;
  });
  const repairsDrainedMs = Date.now() - t0;
  const t1 = Date.now();
  const started = await until('a verification run to start', 20_000, async () => {
    const res = await operator(cluster, 'POST', '/migration/verify', {
      repair: true,
      recheckDelayMs: 500,
      reason: 'history checker: final verification',
    });
    if (res.status === 202) return res.body;
    if (res.status === 409) return undefined; // another run (or a move) is in the way; try again
    throw new Error(`POST /migration/verify answered ${res.status}: ${JSON.stringify(res.body)}`);
  });
  const report = await until(`verification run ${started.id}`, 90_000, async () => {
    const res = await operator(cluster, 'GET', `/migration/verify/${started.id}?limit=1`);
    return res.status === 200 && (res.body.status === 'completed' || res.body.status === 'failed') ? res.body : undefined;
  });
  return {
    repairsDrainedMs,
    repairCounts,
    verification: {
      id: report.id,
      status: report.status,
      clean: report.clean,
      totals: report.totals,
      error: report.error,
      elapsedMs: Date.now() - t1,
    },
  };
}

export async function readFinalState(cluster: Cluster, stores: { DATABASE_URL: string; LEGACY_MONGO_URL: string }): Promise<FinalState> {
  const status = await operator(cluster, 'GET', '/migration/status');
  if (status.status !== 200) throw new Error(`GET /migration/status answered ${status.status}`);
  const pg = new Client({ connectionString: stores.DATABASE_URL });
  const mongo = await MongoClient.connect(stores.LEGACY_MONGO_URL, { serverSelectionTimeoutMS: 5000 });
  try {
    await pg.connect();
    const [pgState, legacy] = await Promise.all([readPostgres(pg), readLegacy(mongo.db(), 'conversations')]);
    return {
      phase: status.body.phase,
      sourceOfTruth: status.body.sourceOfTruth as StoreName,
      stores: { legacy: legacy.conversations, new: pgState },
      unreadableLegacy: legacy.unreadable,
    };
  } finally {
    await pg.end().catch(() => undefined);
    await mongo.close();
  }
}
