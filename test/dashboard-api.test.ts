/**
 * What the dashboard stands on, over HTTP: the bundle with its Content-Security-Policy, the /queues board
 * behind the operator check (bearer or the dashboard's cookie), and the shadow read endpoints added for
 * the dashboard's chart and top paths.
 */
import { startTestApp, TestApp } from './support/app';
import { APP_TOKEN, isolatedRedis, OPERATOR_TOKEN } from './support/env';

const op = { token: OPERATOR_TOKEN };

describe('dashboard over HTTP', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ ...isolatedRedis() });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('serves the bundle without a token, under a CSP that allows nothing inline and nothing from elsewhere', async () => {
    const page = await t.request('GET', '/dashboard', { token: null });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    const csp = page.headers.get('content-security-policy')!;
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe-inline');
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
    expect(page.body).toContain('/dashboard/assets/app.js');
    expect(page.body).not.toMatch(/<script>|<style>|\sstyle=|\son\w+=|https?:\/\//);

    const js = await t.request('GET', '/dashboard/assets/app.js', { token: null });
    expect([js.status, js.headers.get('content-type')]).toEqual([200, 'text/javascript; charset=utf-8']);
    const etag = js.headers.get('etag')!;
    expect((await t.request('GET', '/dashboard/assets/app.js', { token: null, headers: { 'if-none-match': etag } })).status).toBe(304);
    expect((await t.request('GET', '/dashboard/assets/app.css', { token: null })).status).toBe(200);
    for (const path of ['/dashboard/assets/nope.js', '/dashboard/assets/..%2F..%2Fpackage.json', '/dashboard/assets/index.html']) {
      const res = await t.request('GET', path, { token: null });
      expect([path, res.status, res.body.code]).toEqual([path, 404, 'NOT_FOUND']);
    }
  });

  it('opens /queues only to an operator: 401 without a token or with a bad one, 403 with an app token', async () => {
    for (const path of ['/queues', '/queues/', '/queues/api/queues']) {
      const none = await t.request('GET', path, { token: null });
      expect([path, none.status, none.body.code]).toEqual([path, 401, 'UNAUTHORIZED']);
      expect(none.body.requestId).toEqual(expect.any(String));
      expect((await t.request('GET', path, { token: 'not-a-configured-token-00' })).status).toBe(401);
      const app = await t.request('GET', path, { token: APP_TOKEN });
      expect([path, app.status, app.body.code]).toEqual([path, 403, 'FORBIDDEN']);
    }
    const board = await t.request('GET', '/queues/', op);
    expect(board.status).toBe(200);
    expect(board.body).toContain('Migration queues');
    expect(board.body).not.toContain('fonts.googleapis.com');
    expect(board.headers.get('content-security-policy')).toContain("connect-src 'self'");
    const api = await t.request('GET', '/queues/api/queues', op);
    expect(api.status).toBe(200);
    expect(api.body.queues.map((q: { name: string }) => q.name).sort()).toEqual([
      'backfill',
      'catchup',
      'cleanup',
      'repair',
      'shadow',
      'traffic',
      'verify',
    ]);
    expect(api.body.queues.every((q: { readOnlyMode: boolean }) => q.readOnlyMode)).toBe(true);
  });

  it('mints a short-lived HttpOnly, SameSite=Strict cookie for /queues to operators only; a forged or cross-site use is refused', async () => {
    expect((await t.request('POST', '/dashboard/queues-session', { token: null })).status).toBe(401);
    const refused = await t.request('POST', '/dashboard/queues-session', { token: APP_TOKEN });
    expect([refused.status, refused.headers.get('set-cookie')]).toEqual([403, null]);

    const minted = await t.request('POST', '/dashboard/queues-session', op);
    expect(minted.status).toBe(200);
    expect(minted.body.url).toBe('/queues/');
    const setCookie = minted.headers.get('set-cookie')!;
    expect(setCookie).toMatch(/^lms_queues=v1\./);
    expect(setCookie).toMatch(/HttpOnly/i);
    expect(setCookie).toMatch(/SameSite=Strict/i);
    expect(setCookie).toMatch(/Path=\/queues/);
    expect(Number(/Max-Age=(\d+)/.exec(setCookie)![1])).toBeLessThanOrEqual(900);
    expect(setCookie).not.toContain(OPERATOR_TOKEN);
    const cookie = setCookie.split(';')[0];

    const viaCookie = await t.request('GET', '/queues/api/queues', { token: null, headers: { cookie } });
    expect(viaCookie.status).toBe(200);
    // Change a character inside the signature: the last base64url character carries padding bits, and
    // changing only those would decode to the same bytes (a forgery that is no forgery, 1 time in 16).
    const at = cookie.length - 5;
    const forged = cookie.slice(0, at) + (cookie[at] === 'A' ? 'B' : 'A') + cookie.slice(at + 1);
    expect((await t.request('GET', '/queues/api/queues', { token: null, headers: { cookie: forged } })).status).toBe(401);
    // A bearer header, when sent, decides on its own: an app token stays refused even with the cookie.
    expect((await t.request('GET', '/queues/api/queues', { token: APP_TOKEN, headers: { cookie } })).status).toBe(403);
    // Changes with the cookie must come from this origin.
    const crossSite = await t.request('PUT', '/queues/api/queues/repair/pause', {
      token: null,
      headers: { cookie, 'sec-fetch-site': 'cross-site' },
    });
    expect([crossSite.status, crossSite.body.code]).toEqual([403, 'FORBIDDEN']);

    const cleared = await t.request('DELETE', '/dashboard/queues-session', { token: null });
    expect(cleared.status).toBe(204);
    expect(cleared.headers.get('set-cookie')).toMatch(/^lms_queues=;.*Path=\/queues/);
  });

  describe('shadow mismatch rate over time and top paths', () => {
    beforeAll(async () => {
      // Samples decided 55, 35 and 15 minutes ago (mid-bucket): 4 compared (1 mismatched), 2 compared (2 mismatched), 1 error.
      const at = (min: number) => `clock_timestamp() - interval '${min} minutes'`;
      const sample = (outcome: string, min: number) =>
        t.pg.query(
          `INSERT INTO shadow_samples (kind, endpoint, outcome, sampled_at, decided_at) VALUES ('stores', 'get', $1, ${at(min)}, ${at(min)})`,
          [outcome],
        );
      for (const o of ['matched', 'matched', 'lag', 'mismatched']) await sample(o, 55);
      for (const o of ['mismatched', 'mismatched']) await sample(o, 35);
      await sample('error', 15);
      const mismatch = (patterns: string[], min: number) =>
        t.pg.query(
          `INSERT INTO shadow_mismatches (kind, endpoint, phase, primary_side, secondary_side, paths, path_patterns, differences, difference_count, sampled_at, detected_at)
           VALUES ('stores', 'get', 'shadow', 'legacy', 'new', $1, $1, '[]', 1, ${at(min)}, ${at(min)})`,
          [patterns],
        );
      await mismatch(['title'], 50);
      await mismatch(['title', 'messages[*].content'], 30);
      await mismatch(['messages[*].content'], 30);
      await mismatch(['metadata.a'], 30);
      await mismatch(['metadata.old'], 120);
    });

    it('cuts the window into buckets, oldest first, each with its rate (null when nothing was compared)', async () => {
      const res = await t.request('GET', '/migration/shadow/timeline?windowMs=3600000&buckets=6', op);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ windowMs: 3600000, bucketMs: 600000, maxMismatchRate: expect.any(Number) });
      expect(
        res.body.buckets.map((b: { compared: number; mismatched: number; rate: number | null }) => [b.compared, b.mismatched, b.rate]),
      ).toEqual([
        [4, 1, 0.25],
        [0, 0, null],
        [2, 2, 1],
        [0, 0, null],
        [0, 0, null],
        [0, 0, null],
      ]);
      const starts = res.body.buckets.map((b: { start: string }) => Date.parse(b.start));
      expect(starts[1] - starts[0]).toBe(600000);
      expect(Math.abs(starts[5] + 600000 - Date.now())).toBeLessThan(60_000);
    });

    it('ranks the paths that differed most in the window', async () => {
      const res = await t.request('GET', '/migration/shadow/top-paths?windowMs=3600000&limit=2', op);
      expect(res.status).toBe(200);
      expect(res.body.items.map((i: { path: string; mismatches: number }) => [i.path, i.mismatches])).toEqual([
        ['messages[*].content', 2],
        ['title', 2],
      ]);
      const all = await t.request('GET', '/migration/shadow/top-paths?windowMs=3600000', op);
      expect(all.body.items.map((i: { path: string }) => i.path)).not.toContain('metadata.old');
    });

    it('refuses bad parameters with 400 naming each, and needs an operator token', async () => {
      const bad = await t.request('GET', '/migration/shadow/timeline?windowMs=5&buckets=0&x=1', op);
      expect(bad.status).toBe(400);
      expect(bad.body.code).toBe('VALIDATION_FAILED');
      expect(bad.body.errors.map((e: { field: string }) => e.field).sort()).toEqual(['buckets', 'windowMs', 'x']);
      expect((await t.request('GET', '/migration/shadow/top-paths?limit=101', op)).status).toBe(400);
      for (const path of ['/migration/shadow/timeline', '/migration/shadow/top-paths']) {
        expect((await t.request('GET', path, { token: null })).status).toBe(401);
        expect((await t.request('GET', path, { token: APP_TOKEN })).status).toBe(403);
      }
    });
  });
});
