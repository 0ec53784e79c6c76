/**
 * The logs as an operator reads them: JSON lines; every line logged while a request is served carries
 * that request's id (the one the client sent or was given back, and that error bodies carry); every
 * line logged while a job runs carries its queue and job id; tokens, cookies and query-string secrets
 * appear in none. The API and a catch-up worker run in this process, their lines captured.
 */
import type { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { nestLogger } from '../src/common/logging/logging.module';
import { createRootLogger } from '../src/common/logging/root-logger';
import { QueueName } from '../src/queues/queue-names';
import { WorkerModule } from '../src/worker.module';
import { startTestApp, TestApp } from './support/app';
import { APP_TOKEN, isolatedRedis, OPERATOR_TOKEN } from './support/env';

type Line = Record<string, any>;

const QUERY_SECRET = 'query-secret-4b1e9d7c2a';
const COOKIE_SECRET = 'cookie-secret-8f3a6c1d0e';
const WRONG_TOKEN = 'wrong-token-from-a-client-5d2c9e';

describe('logs: JSON lines with the request and the job they belong to', () => {
  const raw: string[] = [];
  const capture = { write: (chunk: string) => void raw.push(chunk) };
  const lines = (): Line[] =>
    raw
      .join('')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Line);
  const ofRequest = (id: string) => lines().filter((l) => l.requestId === id);
  let t: TestApp;
  let worker: INestApplicationContext;

  beforeAll(async () => {
    // Every legacy command is "slow": a line logged deep inside the store, in the middle of a request.
    t = await startTestApp(
      { LOG_LEVEL: 'debug', LEGACY_SLOW_COMMAND_MS: '1', ...isolatedRedis() },
      { logger: { level: 'debug', destination: capture } },
    );
    // A worker process's set-up (workers/worker.ts), in this process.
    const log = createRootLogger({ level: 'debug', destination: capture });
    worker = await NestFactory.createApplicationContext(WorkerModule.forRoot(t.config, [QueueName.Catchup], log), {
      logger: nestLogger(log),
      abortOnError: false,
    });
  }, 120_000);

  afterAll(async () => {
    await worker?.close();
    await t?.close();
  });

  it('puts the request id on every line of a request, from the store up to the line that closes it', async () => {
    const res = await t.request('POST', '/conversations', {
      body: { userId: 'logs', title: 't' },
      headers: { 'x-request-id': 'log-test.create' },
    });
    expect(res.status).toBe(201);
    expect(res.headers.get('x-request-id')).toBe('log-test.create');
    const mine = ofRequest('log-test.create');
    expect(mine.some((l) => l.context === 'LegacySlowCommands')).toBe(true);
    expect(mine.find((l) => l.msg === 'request completed')).toMatchObject({
      level: 'info',
      req: { method: 'POST', url: '/conversations' },
      res: { statusCode: 201 },
    });
    expect(typeof mine[0].time).toBe('string');
  });

  it('gives a request refused before any controller (415) an id, echoed, in its body and on its line', async () => {
    const res = await t.request('POST', '/conversations', {
      rawBody: 'x',
      headers: { 'content-type': 'text/plain', 'x-request-id': 'bad id with spaces' },
    });
    expect(res.status).toBe(415);
    const id = res.headers.get('x-request-id')!;
    expect(id).not.toBe('bad id with spaces');
    expect(res.body.requestId).toBe(id);
    expect(ofRequest(id)).toEqual([expect.objectContaining({ msg: 'request completed', res: { statusCode: 415 } })]);
  });

  it('logs no token, cookie or query-string secret a client presents', async () => {
    const res = await t.request('GET', `/conversations?userId=logs&access_token=${QUERY_SECRET}`, {
      token: WRONG_TOKEN,
      headers: { cookie: `session=${COOKIE_SECRET}`, 'x-request-id': 'log-test.secrets' },
    });
    expect(res.status).toBe(401);
    const [line] = ofRequest('log-test.secrets');
    expect(line.req.url).toBe('/conversations?userId=logs&access_token=[Redacted]');
    const text = raw.join('');
    for (const secret of [QUERY_SECRET, COOKIE_SECRET, WRONG_TOKEN, APP_TOKEN, OPERATOR_TOKEN]) expect(text).not.toContain(secret);
  });

  it('puts the queue and the job id on every line logged while a job runs', async () => {
    const pass = await t.request('POST', '/migration/sync/catchup?wait=true', {
      token: OPERATOR_TOKEN,
      headers: { 'x-request-id': 'log-test.catchup' },
    });
    expect(pass.status).toBe(200);
    expect(pass.body).toMatchObject({ state: 'completed', result: { read: expect.any(Number) } });
    expect(pass.body.result.read).toBeGreaterThan(0);
    const job = lines().filter((l) => l.jobId === pass.body.jobId);
    expect(job.find((l) => l.msg === 'catch-up pass')).toMatchObject({ queue: 'catchup', context: 'Catchup' });
    // The worker's reads of the legacy store are lines of the job, not of the request that queued it.
    expect(job.some((l) => l.context === 'LegacySlowCommands' && l.queue === 'catchup')).toBe(true);
    expect(job.every((l) => l.requestId === undefined)).toBe(true);
    expect(ofRequest('log-test.catchup').find((l) => l.msg === 'request completed')).toMatchObject({ res: { statusCode: 200 } });
  });
});
