/**
 * A whole migration, not_started -> complete, on real servers, with application writes and reads
 * flowing the whole time and a worker serving every queue. Gates are the short profile's, evaluated
 * from the live figures: nothing is forced. Cleanup archives the legacy collection and checks it before
 * the gate into complete opens. Run twice:
 * - traffic adapter `none`, archive to a directory;
 * - Route 53 in moto, archive to an S3 bucket in moto: after every step the weighted records are read
 *   back through a separate SDK client and carry the weights SPEC gives; at complete only `new` is left.
 */
import { mkdtempSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ListResourceRecordSetsCommand } from '@aws-sdk/client-route-53';
import type { Route53Setup } from '../scripts/lib/route53-setup';
import { MigrationStatusSchema } from '../src/migration/migration.schemas';
import { ALL_QUEUES } from '../src/queues/queue-names';
import { createBucket, dropBucket, motoS3Client, motoS3Env } from './support/archive';
import { dropMotoZone, motoClient, motoZone } from './support/moto';
import { startTestApp, TestApp } from './support/app';
import { isolatedRedis, OPERATOR_TOKEN } from './support/env';
import { FAST_SYNC_ENV, seedLegacy, smallLegacyDocs, startBackfill, waitForRunCompleted } from './support/sync';
import { waitFor } from './support/stores';

const op = { token: OPERATOR_TOKEN };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.each(['none', 'route53'] as const)('a full migration with traffic flowing (traffic provider %s)', (provider) => {
  let t: TestApp;
  let zone: Route53Setup | undefined;
  let bucket: string | undefined;
  const s3 = motoS3Client();
  const route53 = motoClient();
  let worker: INestApplicationContext;
  let running = true;
  let traffic: Promise<void>;
  const acked = new Map<string, { version: number; texts: Set<string> }>();
  let failures = 0;

  beforeAll(async () => {
    let target: Record<string, string> = { ARCHIVE_DIR: mkdtempSync(path.join(os.tmpdir(), 'lms-e2e-archive-')) };
    if (provider === 'route53') {
      zone = await motoZone({ ttl: 1 });
      bucket = await createBucket(s3);
      target = { ...zone.env, ...motoS3Env(), ARCHIVE_S3_BUCKET: bucket, ROUTE53_POLL_MS: '100' };
    }
    t = await startTestApp({
      ...FAST_SYNC_ENV,
      GATE_PROFILE: 'short',
      GATE_MIN_SHADOW_COMPARISONS: '10',
      GATE_ANALYSIS_WINDOW_MS: '30000',
      // This machine runs FerretDB and the whole suite on 2 cores: the flow is under test here, not latency.
      GATE_MAX_P99_MS: '10000',
      SHADOW_SAMPLE_RATE: '1',
      SHADOW_CALIBRATION_RATE: '0',
      SHADOW_LAG_RECHECK_MS: '300',
      ROUTE53_TTL: '1',
      ...isolatedRedis(),
      ...target,
    });
    await seedLegacy(t, smallLegacyDocs(200, 11));
    const { WorkerModule } = await import('../src/worker.module');
    worker = await NestFactory.createApplicationContext(WorkerModule.forRoot(t.config, [...ALL_QUEUES]), { logger: false });
    await worker.init();
  }, 120_000);

  afterAll(async () => {
    running = false;
    await traffic;
    await worker?.close();
    await t?.close();
    if (zone) await dropMotoZone(zone);
    if (bucket) await dropBucket(s3, bucket);
    s3.destroy();
    route53.destroy();
  });

  /** The weights Route 53 serves, read back through a client of the test's own (absent: no record). */
  async function served(): Promise<{ legacy?: number; new?: number }> {
    const out = await route53.send(new ListResourceRecordSetsCommand({ HostedZoneId: zone!.hostedZoneId }));
    const name = zone!.settings.recordName.replace(/\.$/, '').toLowerCase();
    const of = (id: string) =>
      out.ResourceRecordSets?.find((r) => r.SetIdentifier === id && r.Name!.replace(/\.$/, '').toLowerCase() === name)?.Weight;
    return { legacy: of('legacy'), new: of('new') };
  }

  /** Three clients creating, appending and reading their own conversations until stopped. */
  function startTraffic(): Promise<void> {
    const client = async (n: number) => {
      const mine: string[] = [];
      for (let i = 0; running; i++) {
        try {
          if (mine.length < 3 || i % 4 === 0) {
            const r = await t.request('POST', '/conversations', { body: { userId: `e2e-${n}`, title: `c${i}` } });
            if (r.status === 201) {
              mine.push(r.body.id);
              acked.set(r.body.id, { version: r.body.version, texts: new Set() });
            } else failures++;
          } else {
            const id = mine[i % mine.length];
            const text = `m${n}-${i}`;
            const r = await t.request('POST', `/conversations/${id}/messages`, { body: { role: 'user', content: text } });
            if (r.status === 201) {
              const a = acked.get(id)!;
              a.version = Math.max(a.version, r.body.version);
              a.texts.add(text);
            } else failures++;
            const g = await t.request('GET', `/conversations/${id}`);
            if (g.status !== 200) failures++;
          }
        } catch {
          failures++;
        }
        await sleep(20);
      }
    };
    return Promise.all([0, 1, 2].map(client)).then(() => undefined);
  }

  async function verifyClean(): Promise<void> {
    const started = await t.request('POST', '/migration/verify', { ...op, body: { recheckDelayMs: 300, reason: 'e2e gate' } });
    expect(started.status).toBe(202);
    let report: any;
    await waitFor(
      'verification to finish',
      async () => {
        report = (await t.request('GET', `/migration/verify/${started.body.id}`, op)).body;
        return report.status === 'completed' || report.status === 'failed';
      },
      60_000,
      200,
    ).catch((err) => {
      throw new Error(`${(err as Error).message}: ${JSON.stringify(report).slice(0, 1500)}`);
    });
    expect(report.status).toBe('completed');
  }

  /** Advances once every gate passes, running a verification whenever that gate is what is missing. */
  async function advanceTo(step: string): Promise<any> {
    const deadline = Date.now() + 90_000;
    for (;;) {
      const dry = await t.request('POST', '/migration/advance', { ...op, body: { dryRun: true } });
      expect(dry.status).toBe(200);
      expect(dry.body.to).toBe(step);
      const failing = dry.body.gates.filter((g: { pass: boolean }) => !g.pass);
      if (failing.length === 0) {
        const res = await t.request('POST', '/migration/advance', {
          ...op,
          body: { reason: `e2e: into ${step}`, expectedStep: dry.body.from },
        });
        if (res.status === 200) return res.body;
        if (res.body.code !== 'GATE_FAILED') throw new Error(`advance into ${step}: ${res.status} ${JSON.stringify(res.body)}`);
      } else if (failing.some((g: { name: string }) => g.name.includes('verification'))) {
        await verifyClean();
      }
      if (Date.now() > deadline) throw new Error(`gates into ${step} still failing: ${JSON.stringify(failing)}`);
      await sleep(300);
    }
  }

  it('goes through every phase to complete, loses no acknowledged write, and history shows every step', async () => {
    expect((await t.request('POST', '/migration/start', { ...op, body: { reason: 'e2e' } })).status).toBe(200);
    traffic = startTraffic();
    const { runId } = await startBackfill(t);
    await waitForRunCompleted(t, runId, 60_000);

    if (zone) expect(await served()).toEqual({ legacy: 100, new: 0 });
    for (const step of ['canary', 'rollout-10', 'rollout-25', 'rollout-50', 'rollout-75', 'rollout-100', 'deprecation', 'cleanup']) {
      const moved = await advanceTo(step);
      expect(moved).toMatchObject({ to: step, forced: false });
      if (zone) expect([step, await served()]).toEqual([step, { legacy: 100 - moved.weights.after, new: moved.weights.after }]);
    }
    const status = (await t.request('GET', '/migration/status', op)).body;
    expect(status).toMatchObject({ phase: 'cleanup', sourceOfTruth: 'new', dualWrite: false, strayLegacyWrites: { count: 0 } });
    expect(status.lastVerification).toMatchObject({ missing: 0, extra: 0, different: 0 });

    // Entering cleanup started the archive; the gate into complete waits for it to be checked against the store.
    await waitFor(
      'the legacy archive to be verified',
      async () => (await t.request('GET', '/migration/cleanup', op)).body.state === 'verified',
      60_000,
      200,
    );
    const archive = (await t.request('GET', '/migration/cleanup', op)).body;
    // The status answer with every summary filled in (a verification, a verified archive run with its manifest
    // and progress) is what the API documents (OpenAPI is made from this schema).
    const full = MigrationStatusSchema.safeParse((await t.request('GET', '/migration/status', op)).body);
    expect(full.success ? [] : full.error.issues).toEqual([]);
    expect(archive.manifest.documentCount).toBe(await t.legacy.collection('conversations').countDocuments());
    const last = await advanceTo('complete');
    expect(last).toMatchObject({ to: 'complete', forced: false, trafficChange: { kind: 'retire_legacy', state: 'done' } });
    if (zone) expect(await served()).toEqual({ legacy: undefined, new: 100 });
    expect(archive.manifest.archive.location).toContain(provider === 'route53' ? `s3://${bucket}/` : '/');

    running = false;
    await traffic;
    expect(acked.size).toBeGreaterThan(10);
    // Every acknowledged write is in the new store, the source of truth at the end.
    for (const [id, a] of acked) {
      const r = await t.pg.query(
        'SELECT c.version, array_agg(m.content) AS texts FROM conversations c LEFT JOIN messages m ON m.conversation_id = c.id WHERE c.id = $1 GROUP BY c.version',
        [id],
      );
      expect(Number(r.rows[0].version)).toBeGreaterThanOrEqual(a.version);
      for (const text of a.texts) expect(r.rows[0].texts).toContain(text);
    }
    expect(failures).toBe(0);

    const history = (await t.request('GET', '/migration/history?limit=500', op)).body.items.reverse();
    const moves = history
      .filter((h: { action: string }) => ['start', 'advance', 'advance_forced'].includes(h.action))
      .map((h: { after: { step: string } }) => h.after.step);
    expect(moves).toEqual([
      'shadow',
      'canary',
      'rollout-10',
      'rollout-25',
      'rollout-50',
      'rollout-75',
      'rollout-100',
      'deprecation',
      'cleanup',
      'complete',
    ]);
    expect(history.some((h: { action: string }) => h.action.endsWith('_forced'))).toBe(false);
    const changes = history
      .filter((h: { action: string }) => h.action === 'traffic_change')
      .map((h: any) => [h.details.kind, h.after.weight, h.details.state]);
    // Every weight step, then the legacy record retired on reaching complete.
    expect(changes).toEqual([...[5, 10, 25, 50, 75, 100].map((w) => ['weights', w, 'done']), ['retire_legacy', 100, 'done']]);
  }, 300_000);
});
