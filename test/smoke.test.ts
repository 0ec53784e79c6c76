import { startTestApp, TestApp } from './support/app';

describe('initial phase setting', () => {
  it('sets the phase once, and never over an operator change', async () => {
    const t = await startTestApp({ MIGRATION_INITIAL_PHASE: 'shadow' });
    try {
      expect((await t.pg.query('SELECT phase, revision FROM migration_state')).rows).toEqual([{ phase: 'shadow', revision: 1 }]);
      const { MigrationStateRepository } = await import('../src/mode/migration-state.repository');
      const repo = t.app.get(MigrationStateRepository);
      expect(await repo.initialise('canary', 1000)).toBe(false);
      expect((await repo.read()).phase).toBe('shadow');
    } finally {
      await t.close();
    }
  });
});

describe('smoke', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
    await t.setPhase('shadow');
  });
  afterAll(async () => t?.close());

  it('creates and reads a conversation in both stores', async () => {
    const created = await t.request('POST', '/conversations', {
      body: { userId: 'u1', title: 'hello', messages: [{ role: 'user', content: 'hi' }] },
    });
    expect(created.status).toBe(201);
    const id = created.body.id;
    const got = await t.request('GET', `/conversations/${id}`);
    expect(got.status).toBe(200);
    expect(got.headers.get('etag')).toBe('"1"');
    const appended = await t.request('POST', `/conversations/${id}/messages`, { body: { role: 'assistant', content: 'hello!' } });
    expect(appended.status).toBe(201);
    expect(appended.body.version).toBe(2);
    const pg = await t.pg.query('SELECT version FROM conversations WHERE id = $1', [id]);
    expect(pg.rows[0].version).toBe('2');
    const ready = await t.request('GET', '/health/ready', { token: null });
    expect(ready.status).toBe(200);
  });
});
