import { APP_TOKEN, OPERATOR_TOKEN } from './support/env';
import { startTestApp, TestApp } from './support/app';

const basic = (token: string) => `Basic ${Buffer.from(`someone:${token}`).toString('base64')}`;

describe('OpenAPI document (API_DOCS)', () => {
  describe('operator (the default)', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startTestApp();
    });
    afterAll(async () => t?.close());

    it('refuses a caller without a token with 401 in the error shape and a login prompt', async () => {
      for (const path of ['/docs', '/docs-json', '/docs/swagger-ui-init.js']) {
        const res = await t.request('GET', path, { token: null });
        expect(res.status).toBe(401);
        expect(res.body).toMatchObject({ statusCode: 401, code: 'UNAUTHORIZED', requestId: expect.any(String) });
        expect(res.headers.get('www-authenticate')).toMatch(/^Basic realm=/);
      }
    });

    it('refuses an application token with 403', async () => {
      const res = await t.request('GET', '/docs-json', { token: APP_TOKEN });
      expect(res.status).toBe(403);
      expect(res.body.code).toBe('FORBIDDEN');
      const prompt = await t.request('GET', '/docs', { token: null, headers: { authorization: basic(APP_TOKEN) } });
      expect(prompt.status).toBe(403);
    });

    it('serves the document to an operator token, as a bearer or as the password of the login prompt', async () => {
      const json = await t.request('GET', '/docs-json', { token: OPERATOR_TOKEN });
      expect(json.status).toBe(200);
      expect(Object.keys(json.body.paths)).toContain('/conversations');
      const page = await t.request('GET', '/docs', { token: null, headers: { authorization: basic(OPERATOR_TOKEN) } });
      expect(page.status).toBe(200);
      expect(String(page.body)).toContain('swagger');
    });

    it('leaves every other route to its own rules', async () => {
      expect((await t.request('GET', '/health/live', { token: null })).status).toBe(200);
      expect((await t.request('GET', '/conversations?userId=nobody', { token: APP_TOKEN })).status).toBe(200);
    });
  });

  describe('off', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startTestApp({ API_DOCS: 'off' });
    });
    afterAll(async () => t?.close());

    it('does not serve the document at all, even to an operator', async () => {
      for (const path of ['/docs', '/docs-json']) {
        const res = await t.request('GET', path, { token: OPERATOR_TOKEN });
        expect(res.status).toBe(404);
        expect(res.body.code).toBe('NOT_FOUND');
      }
    });
  });

  describe('public', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startTestApp({ API_DOCS: 'public' });
    });
    afterAll(async () => t?.close());

    it('serves the document without a token', async () => {
      expect((await t.request('GET', '/docs-json', { token: null })).status).toBe(200);
      expect((await t.request('GET', '/docs', { token: null })).status).toBe(200);
    });
  });
});
