/**
 * The `verify` command line as a user runs it (a child process, settings from the environment over
 * `.env.local`), against this file's own databases: it verifies in its own process, prints the
 * report, and says by its exit status whether the stores agree.
 */
import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { MongoClient, ObjectId } from 'mongodb';
import { toLegacy } from '../src/model/legacy-transform';
import { sampleConversation } from '../src/model/testing/fixtures';
import { redisForQueues } from '../src/stores/redis';
import { VerifyQueue } from '../src/verify/verify-queue';
import { createDataSource } from '../src/stores/postgres/data-source';
import { PostgresConversationStore } from '../src/stores/postgres/postgres-conversation.store';
import { createTestDatabases, TestDatabases } from './support/databases';
import { isolatedRedis, ROOT, servicesEnv, testConfig } from './support/env';

const run = promisify(execFile);
const TS_NODE = path.join(ROOT, 'node_modules/.bin/ts-node');

describe('verify command line', () => {
  let dbs: TestDatabases;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    dbs = await createTestDatabases();
    env = {
      ...process.env,
      ...servicesEnv(),
      DATABASE_URL: dbs.databaseUrl,
      LEGACY_MONGO_URL: dbs.legacyUrl,
      ...isolatedRedis(),
      LOG_LEVEL: 'error',
    };
    const cs = Array.from({ length: 40 }, (_, i) => sampleConversation({ id: `abc${i.toString(16).padStart(21, '0')}` }));
    const mongo = await MongoClient.connect(dbs.legacyUrl);
    const ds = createDataSource({ url: dbs.databaseUrl, poolSize: 2 });
    await ds.initialize();
    try {
      await mongo
        .db()
        .collection('conversations')
        .insertMany(cs.map((c) => ({ ...toLegacy(c), _id: new ObjectId(c.id) })));
      await new PostgresConversationStore(ds).putMany(cs.filter((_, i) => i !== 7));
    } finally {
      await mongo.close();
      await ds.destroy();
    }
  });

  afterAll(async () => {
    await dbs?.drop();
  });

  const cli = (...args: (string | NodeJS.ProcessEnv)[]) =>
    run(
      TS_NODE,
      ['--transpile-only', '-P', 'tsconfig.json', 'scripts/verify-cli.ts', ...args.filter((a): a is string => typeof a === 'string')],
      { cwd: ROOT, env: Object.assign({}, env, ...args.filter((a) => typeof a !== 'string')), timeout: 60_000 },
    ).then(
      ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
      (err: { code: number; stdout: string; stderr: string }) => ({ code: err.code, stdout: err.stdout, stderr: err.stderr }),
    );

  it('verifies in its own process, prints the report, and exits 2 when the stores differ', async () => {
    // --inline: a worker of another test file on the same Redis database must not take this run.
    const res = await cli('--inline', '--json', '--recheck-delay-ms', '0', '--chunk-size', '10');
    expect({ code: res.code, stderr: res.stderr }).toEqual({ code: 2, stderr: expect.stringContaining('started here') });
    const report = JSON.parse(res.stdout);
    expect(report).toMatchObject({ status: 'completed', clean: false, totals: { missing: 1, extra: 0, different: 0 } });
    expect(report.progress.recordsCompared).toBe(40);
    expect(report.differences.items).toEqual([
      expect.objectContaining({ conversationId: `abc${(7).toString(16).padStart(21, '0')}`, kind: 'missing' }),
    ]);

    const shown = await cli('--report', String(report.id), '--kind', 'missing');
    expect(shown.code).toBe(2);
    expect(shown.stdout).toContain(`run ${report.id} (report) completed`);
    expect(shown.stdout).toMatch(/abc0+7\s+missing/);
  });

  it('walks every segment itself when no worker serves the queue, and queues no helper job for nobody', async () => {
    // A key prefix of its own: no worker of another test file shares this queue.
    const prefix = `lms-cli-${process.pid}-${Date.now()}`;
    const res = await cli('--json', '--recheck-delay-ms', '0', '--chunk-size', '10', '--segments', '3', { REDIS_KEY_PREFIX: prefix });
    expect({ code: res.code, stderr: res.stderr }).toEqual({
      code: 2,
      stderr: expect.stringContaining('no worker serves the verify queue'),
    });
    const report = JSON.parse(res.stdout);
    expect(report).toMatchObject({
      status: 'completed',
      totals: { missing: 1 },
      progress: { recordsCompared: 40, segments: { total: 3, done: 3 } },
    });
    const queue = new VerifyQueue(redisForQueues(testConfig({ ...env, REDIS_KEY_PREFIX: prefix }).redis), prefix);
    try {
      const jobs = await queue.queue.getJobs(['waiting', 'prioritized', 'delayed', 'active', 'completed', 'failed']);
      expect(jobs.map((j) => j.name)).toEqual([]);
    } finally {
      await queue.close();
    }
  });

  it('refuses bad options with the usage', async () => {
    const res = await cli('--chunk-size', '1');
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('chunkSize');
    const unknown = await cli('--sample');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('usage:');
  });
});
