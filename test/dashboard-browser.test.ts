/**
 * The dashboard in a real browser (Debian chromium through playwright-core) against the real API and a
 * worker: sign-in refusals (401, 403), start, a dry run that shows failing gates in units people read, a
 * forced advance behind its confirmation, a stale screen (409 STEP_CHANGED -> refreshed, nothing done),
 * rollback, a backfill, a verification (with the repair choice) and a catch-up pass started from the screen
 * behind their confirmations, the lag share, the follow-up lag and the last flip's write pause, pause, the
 * /queues board, and a revoked token sending the operator back to sign-in.
 */
import { INestApplicationContext } from '@nestjs/common';
import * as path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { QueueName } from '../src/queues/queue-names';
import { startTestApp, TestApp } from './support/app';
import { launchChromium, screenshotDir, watchContext } from './support/browser';
import { APP_TOKEN, isolatedRedis, OPERATOR_TOKEN } from './support/env';
import { smallLegacyDocs, seedLegacy, startSyncWorker, waitForRunCompleted } from './support/sync';
import { waitFor } from './support/stores';

const WAIT = { timeout: 15_000 };

describe('dashboard in a browser', () => {
  let t: TestApp;
  let worker: INestApplicationContext;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let seen: ReturnType<typeof watchContext>;
  const shots = screenshotDir();
  const shot = (name: string, full = false) => page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: full });

  beforeAll(async () => {
    t = await startTestApp({ GATE_PROFILE: 'short', ...isolatedRedis(), ROUTE53_TTL: '1' });
    worker = await startSyncWorker(t.config, [QueueName.Traffic, QueueName.Backfill, QueueName.Catchup, QueueName.Verify]);
    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
    context.setDefaultTimeout(WAIT.timeout);
    seen = watchContext(context, t.url);
    page = await context.newPage();
  });
  afterAll(async () => {
    await browser?.close();
    await worker?.close();
    await t?.close();
  });

  const step = async () => (await t.pg.query('SELECT phase, step, revision FROM migration_state')).rows[0];
  const currentStep = () => page.getByTestId('current-step');
  const notice = () => page.getByTestId('notice');
  const signIn = async (token: string) => {
    await page.fill('#token', token);
    await page.click('button[type=submit]');
  };

  it('refuses a bad token (401) and an application token (403) at sign-in, and keeps neither', async () => {
    await page.goto(`${t.url}/dashboard`);
    await signIn('not-a-configured-token-0000');
    await page.getByTestId('signin-error').filter({ hasText: '401' }).waitFor(WAIT);
    await signIn(APP_TOKEN);
    const error = page.getByTestId('signin-error');
    await error.filter({ hasText: '403' }).waitFor(WAIT);
    expect(await error.textContent()).toContain('needs an operator token');
    expect(await page.evaluate('sessionStorage.length')).toBe(0);
    await shot('login-app-token-refused');
  });

  it('signs in with an operator token and starts the migration behind a confirmation', async () => {
    await signIn(OPERATOR_TOKEN);
    await currentStep().filter({ hasText: 'not_started' }).waitFor(WAIT);
    expect(await page.evaluate(`sessionStorage.getItem('lms.operatorToken')`)).toBe(OPERATOR_TOKEN);
    await page.getByTestId('advance').click();
    const dialog = page.getByTestId('dialog');
    await dialog.waitFor(WAIT);
    expect(await dialog.getByTestId('dialog-changes').textContent()).toContain('dual writes start');
    await dialog.getByTestId('reason').fill('browser test: begin');
    await dialog.getByTestId('confirm').click();
    await currentStep().filter({ hasText: 'shadow' }).waitFor(WAIT);
    expect(await notice().textContent()).toContain('not_started → shadow done');
    expect(await step()).toMatchObject({ phase: 'shadow' });
  });

  it('shows a dry run with every failing gate, value and threshold, and changes nothing', async () => {
    const before = await step();
    await page.getByTestId('dry-run').click();
    const result = page.getByTestId('dry-run-result');
    await result.waitFor(WAIT);
    expect(await result.textContent()).toMatch(/shadow → canary — would be refused: \d of 6 gates fail/);
    for (const gate of ['backfill_complete', 'verification', 'shadow_comparisons']) {
      expect(await result.locator(`tr[data-gate="${gate}"]`).getAttribute('data-pass')).toBe('false');
    }
    expect(await result.locator('tr[data-gate="backfill_complete"]').textContent()).toContain('true');
    // Gate figures in units people read: the verification's age limit is an hour, not 3600000 ms.
    expect(await result.locator('tr[data-gate="verification"]').textContent()).toContain('a clean run younger than 1 h');
    expect(await result.textContent()).not.toMatch(/\d{4,} ?ms/);
    expect(await step()).toEqual(before);
    await shot('dry-run-failing-gates', true);
  });

  it('advances past failing gates only when forced with a reason, says what changes, and marks the force in the audit log', async () => {
    await page.getByTestId('advance').click();
    const dialog = page.getByTestId('dialog');
    await dialog.waitFor(WAIT);
    expect(await dialog.getByTestId('dialog-changes').textContent()).toContain('shadow → canary: new weight 0% → 5% (legacy 100% → 95%)');
    const confirm = dialog.getByTestId('confirm');
    expect(await confirm.isDisabled()).toBe(true);
    await dialog.getByTestId('force').check();
    expect(await confirm.isDisabled()).toBe(true);
    await dialog.getByTestId('reason').fill('browser test: gates checked by hand');
    expect(await confirm.isDisabled()).toBe(false);
    await shot('confirm-forced-advance');
    await confirm.click();
    await currentStep().filter({ hasText: 'canary' }).waitFor(WAIT);
    expect(await notice().textContent()).toContain('shadow → canary done (forced)');
    await page.getByTestId('weights-in-effect').filter({ hasText: 'legacy 95 / new 5' }).waitFor(WAIT);
    const latest = page.getByTestId('audit-log').locator('tbody tr').first();
    expect(await latest.getAttribute('data-action')).toBe('advance_forced');
    expect(await latest.textContent()).toContain('forced');
    expect(await step()).toMatchObject({ phase: 'canary' });
  });

  it('refreshes a stale screen on 409 STEP_CHANGED and does nothing else', async () => {
    // The screen keeps showing canary (its status reads are answered from before) until it next acts.
    const frozen = (await t.request('GET', '/migration/status', { token: OPERATOR_TOKEN })).body;
    let stale = true;
    await page.route('**/migration/status', (route) => (stale ? route.fulfill({ json: frozen }) : route.continue()));
    await page.route('**/migration/advance', (route) => {
      stale = false;
      return route.continue();
    });
    const moved = await t.request('POST', '/migration/advance', {
      token: OPERATOR_TOKEN,
      body: { reason: 'another operator', force: true, expectedStep: 'canary' },
    });
    expect(moved.status).toBe(200);
    await page.getByTestId('refresh').click();
    expect(await currentStep().textContent()).toBe('canary');

    await page.getByTestId('advance').click();
    await notice().filter({ hasText: 'moved while this screen was open' }).waitFor(WAIT);
    await currentStep().filter({ hasText: 'rollout-10' }).waitFor(WAIT);
    expect(await page.getByTestId('dialog').count()).toBe(0);
    await page.unroute('**/migration/status');
    await page.unroute('**/migration/advance');
    expect(await step()).toMatchObject({ phase: 'rollout', step: 0 });
    await shot('stale-screen-refreshed');
  });

  it('offers no force past a gate force cannot pass, and says which one', async () => {
    // The server's dry run, with the flip's interlock failing as it does before any backfill has completed.
    await page.route('**/migration/advance', async (route) => {
      const answer = await route.fetch();
      const body = await answer.json();
      body.gates.unshift({ name: 'backfill_copied', pass: false, value: null, threshold: 'a completed backfill', forceable: false });
      return route.fulfill({ response: answer, json: body });
    });
    try {
      await page.getByTestId('advance').click();
      const dialog = page.getByTestId('dialog');
      await dialog.waitFor(WAIT);
      expect(await dialog.getByTestId('dialog-blocked').textContent()).toBe('Force cannot pass backfill_copied (a completed backfill)');
      expect(await dialog.getByTestId('force').count()).toBe(0);
      expect(await dialog.getByTestId('confirm').isDisabled()).toBe(true);
      await dialog.getByRole('button', { name: 'Cancel' }).click();
      await dialog.waitFor({ ...WAIT, state: 'detached' });
    } finally {
      await page.unroute('**/migration/advance');
    }
    expect(await step()).toMatchObject({ phase: 'rollout', step: 0 });
  });

  it('rolls back to a chosen earlier step behind a confirmation that names the weights', async () => {
    await page.getByTestId('rollback').click();
    const dialog = page.getByTestId('dialog');
    await dialog.waitFor(WAIT);
    expect(await dialog.getByTestId('dialog-changes').textContent()).toContain(
      'rollout-10 → canary: new weight 10% → 5% (legacy 90% → 95%)',
    );
    await dialog.getByTestId('rollback-target').selectOption('shadow');
    await dialog
      .getByTestId('dialog-changes')
      .filter({ hasText: 'rollout-10 → shadow: new weight 10% → 0% (legacy 90% → 100%)' })
      .waitFor(WAIT);
    const confirm = dialog.getByTestId('confirm');
    expect(await confirm.isDisabled()).toBe(true);
    await dialog.getByTestId('reason').fill('browser test: back to shadow');
    await shot('confirm-rollback');
    await confirm.click();
    await currentStep().filter({ hasText: 'shadow' }).waitFor(WAIT);
    expect(await notice().textContent()).toContain('rollout-10 → shadow done');
    await page.getByTestId('weights-in-effect').filter({ hasText: 'legacy 100 / new 0' }).waitFor(WAIT);
    expect(await page.getByTestId('traffic-log').locator('tbody tr').count()).toBe(3);
    expect(await step()).toMatchObject({ phase: 'shadow' });
  });

  it('starts a backfill, a verification (the repair a choice) and a catch-up pass from the screen, each behind a confirmation', async () => {
    await seedLegacy(t, smallLegacyDocs(40, 13));
    const dialog = page.getByTestId('dialog');
    await page.getByTestId('start-backfill').click();
    await dialog.waitFor(WAIT);
    expect(await dialog.getByRole('heading').textContent()).toBe('Start a backfill');
    expect(await dialog.getByTestId('dialog-changes').textContent()).toContain("cuts the legacy collection's _id space into ranges");
    expect(await dialog.getByTestId('reason').count()).toBe(0);
    await shot('confirm-backfill');
    await dialog.getByTestId('confirm').click();
    await notice()
      .filter({ hasText: /Backfill run #\d+ started/ })
      .waitFor(WAIT);
    const runId = Number(/#(\d+)/.exec((await notice().textContent())!)![1]);
    await waitForRunCompleted(t, runId, 60_000);
    await page.getByTestId('refresh').click();
    await page.getByTestId('panel-backfill').getByText('100 % (40 of 40 read)').waitFor(WAIT);

    // 20 copies that no longer match legacy (same version, other content): what verification must list.
    await t.pg.query(
      `UPDATE conversations SET title = 'edited behind the sync' WHERE id IN (SELECT id FROM conversations ORDER BY id LIMIT 20)`,
    );
    await page.getByTestId('start-verify').click();
    await dialog.waitFor(WAIT);
    expect(await dialog.getByTestId('dialog-changes').textContent()).toContain('nothing is written');
    await dialog.getByTestId('dialog-option').check();
    await dialog.getByRole('heading').filter({ hasText: 'Verify and repair' }).waitFor(WAIT);
    expect(await dialog.getByTestId('dialog-changes').textContent()).toContain(
      'each difference is copied from the source of truth (the legacy store (MongoDB)) and verified again',
    );
    await dialog.getByTestId('reason').fill('browser test: after the backfill');
    await shot('confirm-verify-repair');
    // This run only reports, so the differences stay for the report below.
    await dialog.getByTestId('dialog-option').uncheck();
    await dialog.getByRole('heading').filter({ hasText: 'Run a verification' }).waitFor(WAIT);
    await dialog.getByTestId('confirm').click();
    await notice()
      .filter({ hasText: /Verification run #\d+ \(report\) queued/ })
      .waitFor(WAIT);
    const verifyId = Number(/#(\d+)/.exec((await notice().textContent())!)![1]);
    await waitFor(
      'the verification run to finish',
      async () => (await t.request('GET', `/migration/verify/${verifyId}`, { token: OPERATOR_TOKEN })).body.status === 'completed',
      60_000,
      200,
    );

    await page.getByTestId('run-catchup').click();
    await dialog.waitFor(WAIT);
    expect(await dialog.getByTestId('dialog-changes').textContent()).toMatch(
      /legacy changes since .* \(less the 5 s overlap a pass reads again\)/,
    );
    await dialog.getByTestId('confirm').click();
    await notice()
      .filter({ hasText: /catch-up pass/i })
      .waitFor({ timeout: 40_000 });
    expect(await notice().locator('span').first().textContent()).toMatch(
      /^Catch-up pass done: \d+ read, \d+ written, \d+ already up to date, 0 dead-lettered; caught up\.$/,
    );
  });

  it('shows backfill progress, a verification run with its differences page by page, and the shadow mismatch rate over time with the lag share', async () => {
    // Shadow outcomes of the last hour (minute buckets): 50 minutes ago alone (3 of them lag), 31 and 30 minutes ago side by side.
    for (const [outcome, min] of [
      ['matched', 50.5],
      ['matched', 50.5],
      ['mismatched', 50.5],
      ['matched', 31.5],
      ['mismatched', 30.5],
      ['mismatched', 30.5],
    ] as const) {
      await t.pg.query(
        `INSERT INTO shadow_samples (kind, endpoint, outcome, sampled_at, decided_at) VALUES ('stores', 'get', $1, now() - $2 * interval '1 minute', now() - $2 * interval '1 minute')`,
        [outcome, min],
      );
    }
    for (const kind of ['not_copied', 'not_copied', 'follow_up']) {
      await t.pg.query(
        `INSERT INTO shadow_samples (kind, endpoint, outcome, lag_kind, sampled_at, decided_at) VALUES ('stores', 'get', 'lag', $1, now() - 50.5 * interval '1 minute', now() - 50.5 * interval '1 minute')`,
        [kind],
      );
    }
    await t.pg.query(
      `INSERT INTO shadow_mismatches (kind, endpoint, phase, primary_side, secondary_side, paths, path_patterns, differences, difference_count, sampled_at)
       VALUES ('stores', 'get', 'shadow', 'legacy', 'new', '{title}', '{title}', '[]', 1, now()), ('stores', 'get', 'shadow', 'legacy', 'new', '{messages.0.content}', '{messages[*].content}', '[]', 1, now())`,
    );

    await page.getByTestId('refresh').click();
    const backfill = page.getByTestId('panel-backfill');
    await backfill.getByText('100 % (40 of 40 read)').waitFor(WAIT);
    const verify = page.getByTestId('panel-verify');
    await verify.getByText('0 / 0 / 20').waitFor(WAIT);
    await verify.getByRole('button', { name: 'differences' }).click();
    const differences = page.getByTestId('verify-differences');
    await differences.getByText('1–15 of 20').waitFor(WAIT);
    expect(await differences.locator('tbody tr').count()).toBe(15);
    await differences.getByRole('button', { name: 'Next' }).click();
    await differences.getByText('16–20 of 20').waitFor(WAIT);
    expect(await differences.locator('tbody tr').count()).toBe(5);

    const chart = page.getByTestId('shadow-chart');
    await chart.locator('path.line').first().waitFor(WAIT);
    expect(await chart.locator('path.line').count()).toBe(1);
    expect(await chart.locator('circle.dot').count()).toBe(3);
    expect(await page.getByTestId('top-paths').locator('tbody tr').allTextContents()).toEqual([
      expect.stringContaining('messages[*].content'),
      expect.stringContaining('title'),
    ]);
    // Beside the rate: how much of what was compared was still being copied, and why.
    expect(await page.getByTestId('shadow-lag').textContent()).toMatch(/^lag \d+\.\d+ % \(3: 2 not copied yet, 1 follow-up pending\)$/);
    // Ids are never broken across lines (each is one box), however narrow their column.
    await differences.getByRole('button', { name: 'Previous' }).click();
    await differences.getByText('1–15 of 20').waitFor(WAIT);
    expect(
      await page.evaluate(
        `[...document.querySelectorAll('code.id')].filter((e) => e.getClientRects().length !== 1).map((e) => e.textContent)`,
      ),
    ).toEqual([]);
    expect(await page.locator('code.id').count()).toBeGreaterThanOrEqual(15);
  });

  it('labels the weight bar, and shows the follow-up lag and the write pause of the last flip', async () => {
    const legend = page.getByTestId('weight-legend');
    expect(await legend.textContent()).toBe('legacy (MongoDB) 100%new (PostgreSQL) 0%');
    expect(await page.getByTestId('follow-ups').textContent()).toBe('none pending: the new store is in step');
    // The status after a flip into deprecation and back, as the API gives it (test/migration-phases.test.ts makes a real one).
    const real = (await t.request('GET', '/migration/status', { token: OPERATOR_TOKEN })).body;
    const flipped = {
      ...real,
      followUps: { pending: 3, oldestAgeSeconds: 2.4 },
      lastFlip: {
        at: new Date().toISOString(),
        action: 'rollback',
        to: 'rollout-100',
        sourceOfTruth: 'legacy',
        writePause: { waitedMs: 42, heldMs: 1530 },
        cutover: { settled: 2, caughtUp: 0, verified: 5, different: [] },
      },
    };
    await page.route('**/migration/status', (route) => route.fulfill({ json: flipped }));
    try {
      await page.getByTestId('refresh').click();
      await page
        .getByTestId('follow-ups')
        .filter({ hasText: '3 pending, the oldest 2 s old: the new store lags by up to that' })
        .waitFor(WAIT);
      expect(await page.getByTestId('last-flip').textContent()).toMatch(
        /^rollback to rollout-100 at .* UTC: source of truth legacy \(MongoDB\); writes waited 42 ms for those in flight and were held 1\.5 s$/,
      );
      await page.getByTestId('panel-router').screenshot({ path: path.join(shots, 'traffic-and-roles.png') });
    } finally {
      await page.unroute('**/migration/status');
    }
    await page.getByTestId('refresh').click();
    await page.getByTestId('last-flip').waitFor({ state: 'detached', timeout: WAIT.timeout });
  });

  it('pauses and resumes', async () => {
    await page.getByTestId('pause-resume').click();
    await page.getByTestId('dialog').getByTestId('confirm').click();
    await page.getByTestId('panel-timeline').getByText('paused').waitFor(WAIT);
    expect((await t.pg.query('SELECT paused FROM migration_state')).rows[0].paused).toBe(true);
    await page.getByTestId('pause-resume').filter({ hasText: 'Resume' }).click();
    await page.getByTestId('dialog').getByTestId('confirm').click();
    await page.getByTestId('pause-resume').filter({ hasText: 'Pause' }).waitFor(WAIT);
    expect((await t.pg.query('SELECT paused FROM migration_state')).rows[0].paused).toBe(false);
    await page.evaluate('window.scrollTo(0, 0)');
    await shot('overview', true);
  });

  it('opens the /queues board from the dashboard; without the cookie or with an app token /queues is refused', async () => {
    const [board] = await Promise.all([context.waitForEvent('page', WAIT), page.getByTestId('open-queues').click()]);
    await board.waitForLoadState('load', WAIT);
    expect(new URL(board.url()).pathname).toBe('/queues/');
    await board.getByText('traffic').first().waitFor(WAIT);
    expect(await board.title()).toBe('Migration queues');
    await board.screenshot({ path: path.join(shots, 'queues.png') });
    await board.close();

    const stranger = await browser.newContext();
    try {
      const anonymous = await stranger.newPage();
      expect((await anonymous.goto(`${t.url}/queues/`))!.status()).toBe(401);
      await stranger.setExtraHTTPHeaders({ authorization: `Bearer ${APP_TOKEN}` });
      expect((await anonymous.goto(`${t.url}/queues/`))!.status()).toBe(403);
    } finally {
      await stranger.close();
    }
  });

  it('sends the operator back to sign-in when the API stops accepting the token (401)', async () => {
    // Page scripts are strings here: the test's TypeScript has no DOM types.
    await page.evaluate(`sessionStorage.setItem('lms.operatorToken', 'revoked-operator-token-000')`);
    await page.reload();
    await page.getByTestId('signin-error').filter({ hasText: '401' }).waitFor(WAIT);
    expect(await page.evaluate(`sessionStorage.getItem('lms.operatorToken')`)).toBeNull();
  });

  it('loaded nothing from another origin and broke no CSP rule', () => {
    expect(seen.offOrigin).toEqual([]);
    expect(seen.problems).toEqual([]);
  });
});
