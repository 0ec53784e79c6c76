import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { ROOT, servicesEnv } from './support/env';

const run = promisify(execFile);
const TS_NODE = path.join(ROOT, 'node_modules/.bin/ts-node');

describe('worker process', () => {
  it('refuses an unknown queue name at boot and lists the valid ones', async () => {
    const env = { ...process.env, ...servicesEnv(), APP_API_TOKENS: 'w:worker-test-token-0001', WORKER_QUEUES: 'repair,no-such-queue' };
    const failure = await run(TS_NODE, ['--transpile-only', '-P', 'tsconfig.json', 'workers/worker.ts'], {
      cwd: ROOT,
      env,
      timeout: 60_000,
    }).then(
      () => null,
      (err: { code: number; stderr: string }) => err,
    );
    expect(failure).not.toBeNull();
    expect(failure!.code).toBe(1);
    expect(failure!.stderr).toContain(
      'Unknown queue name(s) in WORKER_QUEUES: no-such-queue. Valid queues: repair, backfill, catchup, verify, shadow',
    );
  });

  it('stops at boot with one message naming every bad variable', async () => {
    const env = { PATH: process.env.PATH, HOME: process.env.HOME, PORT: 'x', REDIS_URL: 'nope' };
    const failure = await run(TS_NODE, ['--transpile-only', '-P', path.join(ROOT, 'tsconfig.json'), path.join(ROOT, 'workers/worker.ts')], {
      cwd: '/tmp',
      env,
      timeout: 60_000,
    }).then(
      () => null,
      (err: { code: number; stderr: string }) => err,
    );
    expect(failure!.code).toBe(1);
    for (const name of ['PORT', 'DATABASE_URL', 'LEGACY_MONGO_URL', 'REDIS_URL', 'APP_API_TOKENS'])
      expect(failure!.stderr).toContain(`${name}:`);
  });
});
