/**
 * The dashboard in a real browser (Debian chromium through playwright-core) against the real API and a
 * traffic worker: sign-in refusals (401, 403), start, a dry run that shows failing gates, a forced
 * advance behind its confirmation, a stale screen (409 STEP_CHANGED -> refreshed, nothing done), rollback,
 * pause, the /queues board, and a revoked token sending the operator back to sign-in.
 */
import { INestApplicationContext } from '@nestjs/common';
import * as path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { QueueName } from '../src/queues/queue-names';
import { startTestApp, TestApp } from './support/app';
import { launchChromium, screenshotDir, watchContext } from './support/browser';
import { APP_TOKEN, isolatedRedis, OPERATOR_TOKEN } from './support/env';
import { smallLegacyDocs, seedLegacy, startBackfill, startSyncWorker, waitForRunCompleted } from './support/sync';
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
    worker = await startSyncWorker(t.config, [QueueName.Traffic, QueueName.Backfill, QueueName.Verify]);
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
    const moved = await t.request('POST', '/migration/advance', { token: OPERATOR_TOKEN, body: { reason: 'another operator', force: true, expectedStep: 'canary' } });
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

  it('rolls back to a chosen earlier step behind a confirmation that names the weights', async () => {
    await page.getByTestId('rollback').click();
    const dialog = page.getByTestId('dialog');
    await dialog.waitFor(WAIT);
    expect(await dialog.getByTestId('dialog-changes').textContent()).toContain('rollout-10 → canary: new weight 10% → 5% (legacy 90% → 95%)');
    await dialog.getByTestId('rollback-target').selectOption('shadow');
    await dialog.getByTestId('dialog-changes').filter({ hasText: 'rollout-10 → shadow: new weight 10% → 0% (legacy 90% → 100%)' }).waitFor(WAIT);
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

  it('shows backfill progress, a verification run with its differences page by page, and the shadow mismatch rate over time', async () => {
    await seedLegacy(t, smallLegacyDocs(40, 13));
    const { runId } = await startBackfill(t);
    await waitForRunCompleted(t, runId, 60_000);
    // 20 copies that no longer match legacy (same version, other content): what verification must list.
    await t.pg.query(`UPDATE conversations SET title = 'edited behind the sync' WHERE id IN (SELECT id FROM conversations ORDER BY id LIMIT 20)`);
    const run = await t.request('POST', '/migration/verify', { token: OPERATOR_TOKEN, body: { recheckDelayMs: 100 } });
    expect(run.status).toBe(202);
    await waitFor('the verification run to finish', async () => (await t.request('GET', `/migration/verify/${run.body.id}`, { token: OPERATOR_TOKEN })).body.status === 'completed', 60_000, 200);
    // Shadow outcomes of the last hour (minute buckets): 50 minutes ago alone, 31 and 30 minutes ago side by side.
    for (const [outcome, min] of [['matched', 50.5], ['matched', 50.5], ['mismatched', 50.5], ['matched', 31.5], ['mismatched', 30.5], ['mismatched', 30.5]] as const) {
      await t.pg.query(`INSERT INTO shadow_samples (kind, endpoint, outcome, sampled_at, decided_at) VALUES ('stores', 'get', $1, now() - $2 * interval '1 minute', now() - $2 * interval '1 minute')`, [outcome, min]);
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
    expect(await page.getByTestId('top-paths').locator('tbody tr').allTextContents()).toEqual([expect.stringContaining('messages[*].content'), expect.stringContaining('title')]);
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
