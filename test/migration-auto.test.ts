/**
 * Automatic progression on real PostgreSQL, with the gates' figures planted through the project's own
 * GateFiguresSource port (the figures themselves are covered by the capabilities' tests).
 */
import { DataSource } from 'typeorm';
import { MigrationModeService } from '../src/mode/migration-mode.service';
import type { GateFigures } from '../src/migration/domain/gates';
import { AutoProgression } from '../src/migration/auto-progression';
import { GATE_FIGURES, GateFiguresSource } from '../src/migration/gate-figures.port';
import { MigrationService } from '../src/migration/migration.service';
import { CleanupService } from '../src/cleanup/cleanup.service';
import { MoveCompleter } from '../src/migration/move-completer';
import { PhaseStateRepository } from '../src/migration/phase-state.repository';
import { Cutover } from '../src/migration/cutover';
import { DATA_SOURCE } from '../src/stores/stores.module';
import { SyncControlService } from '../src/sync/sync-control.service';
import { TrafficService } from '../src/traffic/traffic.service';
import { INestApplicationContext } from '@nestjs/common';
import { QueueName } from '../src/queues/queue-names';
import { startTestApp, TestApp } from './support/app';
import { startSyncWorker } from './support/sync';
import { isolatedRedis, OPERATOR_TOKEN } from './support/env';

type Planted = Omit<GateFigures, 'now' | 'enteredAt' | 'legacyDrainedSince' | 'flippedAt'>;

const healthy: Planted = {
  backfillComplete: true,
  backfillCompletedAt: new Date(0),
  catchupLagMs: 0,
  lastVerification: { finishedAt: new Date(), missing: 0, extra: 0, different: 0 },
  shadow: { compared: 5000, mismatchRate: 0 },
  http: { requests: 1000, errorRate: 0, successRate: 1, p99Ms: 20 },
  recordTtlMs: 1000,
  strayWrites: 0,
  pendingRepairs: 0,
  followUpLagMs: 0,
  lastCatchupAt: new Date(),
  archiveVerified: false,
};

describe('automatic progression', () => {
  let t: TestApp;
  let planted: Planted;
  let auto: AutoProgression;
  let worker: INestApplicationContext;

  beforeAll(async () => {
    t = await startTestApp({ GATE_PROFILE: 'short', ...isolatedRedis() });
    const get = <T>(token: unknown) => t.app.get<T>(token as never, { strict: false });
    worker = await startSyncWorker(t.config, [QueueName.Traffic]);
    const figures: GateFiguresSource = {
      collect: async () => ({
        ...planted,
        lastVerification: planted.lastVerification && { ...planted.lastVerification, finishedAt: new Date() },
      }),
      // The status answer's summaries are the live ones: only the gates' figures are planted.
      summaries: (state) => get<GateFiguresSource>(GATE_FIGURES).summaries(state),
    };
    const migration = new MigrationService(
      get(PhaseStateRepository),
      get(TrafficService),
      get(MigrationModeService),
      figures,
      get(Cutover),
      t.config.migration,
      get(SyncControlService),
      get(MoveCompleter),
      get(CleanupService),
    );
    auto = new AutoProgression(migration, get(PhaseStateRepository), get<DataSource>(DATA_SOURCE), {
      enabled: true,
      intervalMs: 60_000,
      threshold: 3,
    });
    await t.request('POST', '/migration/start', { token: OPERATOR_TOKEN, body: { reason: 'auto test' } });
  });
  afterAll(async () => {
    await worker?.close();
    await t?.close();
  });

  const step = async () => (await t.request('GET', '/migration/status', { token: OPERATOR_TOKEN })).body;
  const dwellOver = () => t.pg.query(`UPDATE migration_state SET entered_at = now() - interval '1 minute'`);

  it('waits for the dwell, then advances while the gates pass', async () => {
    planted = healthy;
    await t.pg.query(`UPDATE migration_state SET entered_at = now()`);
    expect(await auto.tick()).toBe('waiting');
    await dwellOver();
    expect(await auto.tick()).toBe('advanced');
    expect((await step()).step).toBe('canary');
    await dwellOver();
    expect(await auto.tick()).toBe('advanced');
    expect((await step()).step).toBe('rollout-10');
  });

  it('rolls back one step and pauses after the threshold of failed checks', async () => {
    planted = { ...healthy, http: { requests: 1000, errorRate: 0.2, successRate: 0.8, p99Ms: 20 } };
    await dwellOver();
    expect(await auto.tick()).toBe('failed_check');
    expect(await auto.tick()).toBe('failed_check');
    expect((await step()).step).toBe('rollout-10');
    expect(await auto.tick()).toBe('rolled_back');
    const s = await step();
    expect(s).toMatchObject({ step: 'canary', paused: true, weights: { newPercent: 5 } });
    const history = (await t.request('GET', '/migration/history', { token: OPERATOR_TOKEN })).body.items;
    expect(history.slice(0, 2).map((h: { action: string; actor: string }) => [h.action, h.actor])).toEqual([
      ['pause', 'auto-progression'],
      ['rollback', 'auto-progression'],
    ]);
    expect(history[1].reason).toMatch(/error_rate=0.2/);
    // Paused: nothing moves, even on passing gates.
    planted = healthy;
    expect(await auto.tick()).toBe('idle');
  });
});
