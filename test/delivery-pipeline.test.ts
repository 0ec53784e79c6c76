/**
 * The delivery files other than the manifests: the image (Dockerfile, .dockerignore, engines) and the
 * GitHub workflows (.github/workflows), read as data, and the closing lines CI ends its log with. actionlint
 * checks the workflows' syntax (scripts/ci/validate-deploy.sh); these tests check what they do.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parse } from 'yaml';
import { ROOT } from './support/env';

const read = (file: string) => fs.readFileSync(path.join(ROOT, file), 'utf8');

type Step = {
  name?: string;
  id?: string;
  uses?: string;
  run?: string;
  if?: string;
  with?: Record<string, unknown>;
  env?: Record<string, string>;
};
type Job = {
  needs?: string | string[];
  if?: string;
  uses?: string;
  permissions?: Record<string, string>;
  environment?: unknown;
  steps: Step[];
  outputs?: Record<string, string>;
};
const workflow = (file: string) =>
  parse(read(`.github/workflows/${file}`)) as { on: any; permissions?: Record<string, string>; jobs: Record<string, Job> };
const stepIndex = (job: Job, match: (s: Step) => boolean) => {
  const i = job.steps.findIndex(match);
  if (i < 0) throw new Error(`no such step in ${JSON.stringify(job.steps.map((s) => s.name ?? s.uses))}`);
  return i;
};

describe('the image', () => {
  const dockerfile = read('Dockerfile');

  it('builds and runs on Node 24 LTS as the unprivileged node user', () => {
    expect([...dockerfile.matchAll(/^FROM (\S+)/gm)].map((m) => m[1].replace(/@sha256:[0-9a-f]{64}$/, ''))).toEqual([
      'node:24-bookworm-slim',
      'node:24-bookworm-slim',
    ]);
    expect(dockerfile).toMatch(/^USER node$/m);
  });

  it('owns the archive folder by the runtime user and checks health through the probe (API or worker)', () => {
    expect(dockerfile).toMatch(/mkdir -p \/var\/lib\/legacy-migration\/archive[\s\S]*chown -R node:node \/var\/lib\/legacy-migration/);
    expect(dockerfile).toMatch(/^HEALTHCHECK [\s\S]*CMD \["node", "dist\/src\/health\/probe\.js"\]$/m);
    expect(dockerfile).toContain('test -f dist/workers/migrate.js');
    expect(read('docker-compose.yml')).toContain('ARCHIVE_DIR: ${ARCHIVE_DIR:-/var/lib/legacy-migration/archive}');
  });

  it('leaves bench, scripts, tests and local tooling out of the build context', () => {
    const ignored = read('.dockerignore')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    for (const entry of ['bench', 'scripts', 'test', 'tools', '.tools', '.local', 'node_modules', '.env', '.env.*', 'deployment'])
      expect(ignored).toContain(entry);
    expect(dockerfile).toContain('test ! -e dist/scripts && test ! -e dist/bench');
  });

  it('keeps in the build context every script `npm run build` runs (the dashboard bundler), and only those', () => {
    const ignored = read('.dockerignore')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    const buildScripts = [...String(JSON.parse(read('package.json')).scripts.build).matchAll(/node (scripts\/\S+)/g)].map((m) => m[1]);
    expect(buildScripts).toEqual(['scripts/build-dashboard.js']);
    expect(ignored.filter((l) => l.startsWith('!'))).toEqual(buildScripts.map((f) => `!${f}`));
  });

  it("package.json requires the image's Node 24 (Node 20 is end of life; scripts/lib/node24.sh installs 24 where the machine is older)", () => {
    const { engines, devDependencies } = JSON.parse(read('package.json'));
    expect(engines.node).toBe('>=24.0.0 <25');
    expect(devDependencies['@types/node']).toMatch(/^24\./);
    expect(read('Dockerfile')).toMatch(/FROM node:24/);
  });
});

describe('ci.yml', () => {
  const ci = workflow('ci.yml');

  it("runs .ci/run (ending with the README's npm test) on pushes to main, pull requests, and as the release's first job", () => {
    expect(Object.keys(ci.on)).toEqual(['push', 'pull_request', 'workflow_call']);
    const steps = ci.jobs.ci.steps;
    expect(steps[steps.length - 1]).toMatchObject({ run: '.ci/run', 'working-directory': 'legacy-migration-service' });
    expect(read('.ci/run')).toMatch(/stage "npm test" run_tests\s*$/);
    expect(ci.permissions).toEqual({ contents: 'read' });
  });

  it('runs on Node 24', () => {
    const node = ci.jobs.ci.steps.find((s) => s.uses?.startsWith('actions/setup-node@'));
    expect(node?.with).toEqual({ 'node-version': 24 });
  });

  it('ends its log with each failed test named (file, title, first lines), then the totals: a log read from its end says what failed', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'test-totals-'));
    const failed = (fullName: string, message: string) => ({ status: 'failed', fullName, failureMessages: [message] });
    const result = {
      numTotalTests: 3,
      numPassedTests: 1,
      numFailedTests: 1,
      numTotalTestSuites: 2,
      numRuntimeErrorTestSuites: 1,
      testResults: [
        {
          name: path.join(ROOT, 'test/a.test.ts'),
          status: 'failed',
          assertionResults: [
            failed(
              'backfill copies it',
              '\u001b[31mexpect(received).toBe(expected)\u001b[39m\n\nExpected: 3\nReceived: 2\n    at Object.<anonymous> (test/a.test.ts:3:4)',
            ),
            { status: 'passed', fullName: 'backfill starts' },
          ],
        },
        { name: path.join(ROOT, 'test/b.test.ts'), status: 'failed', message: 'SyntaxError: nope', assertionResults: [] },
      ],
    };
    fs.writeFileSync(path.join(dir, 'run.json'), JSON.stringify(result));
    const out = execFileSync(process.execPath, ['scripts/ci/test-totals.mjs', dir, 'tests'], { cwd: ROOT, encoding: 'utf8' });
    fs.rmSync(dir, { recursive: true, force: true });
    expect(out.trimEnd().split('\n')).toEqual([
      'tests: FAILED test/a.test.ts › backfill copies it',
      '    expect(received).toBe(expected)',
      '    Expected: 3',
      '    Received: 2',
      'tests: FAILED test/b.test.ts (the suite failed to run)',
      '    SyntaxError: nope',
      'tests: 1 Jest run(s), 2 suites, 1 of which failed to run',
      'tests: 1 passed, 2 failed',
    ]);
  });
});

describe('deploy.yml', () => {
  const deploy = workflow('deploy.yml');
  const text = read('.github/workflows/deploy.yml');
  const allSteps = Object.values(deploy.jobs).flatMap((j) => j.steps ?? []);

  it('runs on version tags only', () => {
    expect(deploy.on).toEqual({ push: { tags: ['v*.*.*'] } });
  });

  it('assumes an AWS role through OIDC: no static keys anywhere', () => {
    expect(text).not.toMatch(/aws-access-key-id|aws-secret-access-key|AWS_SECRET_ACCESS_KEY|AWS_ACCESS_KEY_ID/);
    for (const [name, job] of Object.entries(deploy.jobs)) {
      const aws = (job.steps ?? []).filter((s) => s.uses?.startsWith('aws-actions/configure-aws-credentials@'));
      for (const s of aws) expect(s.with).toMatchObject({ 'role-to-assume': '${{ vars.AWS_DEPLOY_ROLE_ARN }}' });
      if (aws.length > 0) expect({ name, idToken: job.permissions?.['id-token'] }).toEqual({ name, idToken: 'write' });
    }
    expect(deploy.permissions).toEqual({ contents: 'read' });
  });

  it('runs CI on the tagged commit first: nothing is built from a commit that is not green', () => {
    expect(deploy.jobs.ci).toMatchObject({ uses: './.github/workflows/ci.yml' });
    expect(deploy.jobs.build.needs).toBe('ci');
    expect(deploy.jobs.notify.needs).toContain('ci');
  });

  it('scans the built image with Trivy (CRITICAL and HIGH fail it), uploads the SARIF whatever the result, and pushes only after the scan', () => {
    const build = deploy.jobs.build;
    const scan = stepIndex(build, (s) => s.uses?.startsWith('aquasecurity/trivy-action@') ?? false);
    expect(build.steps[scan].uses).toMatch(
      /^aquasecurity\/trivy-action@[0-9a-f]{40} # v\d+\.\d+\.\d+$|^aquasecurity\/trivy-action@[0-9a-f]{40}$/,
    );
    expect(build.steps[scan].with).toMatchObject({
      format: 'sarif',
      output: 'trivy-results.sarif',
      severity: 'CRITICAL,HIGH',
      'exit-code': '1',
    });
    const upload = stepIndex(build, (s) => s.uses?.startsWith('github/codeql-action/upload-sarif@') ?? false);
    expect(upload).toBeGreaterThan(scan);
    expect(build.steps[upload].if).toMatch(/failure\(\)|always\(\)/);
    expect(build.steps[upload].with).toMatchObject({ sarif_file: 'trivy-results.sarif' });
    const push = stepIndex(build, (s) => (s.uses?.startsWith('docker/build-push-action@') ?? false) && s.with?.push === true);
    expect(push).toBeGreaterThan(scan);
    expect(build.steps.filter((s, i) => i < scan && s.with?.push === true)).toEqual([]);
    expect(build.permissions).toMatchObject({ 'security-events': 'write' });
    expect(stepIndex(build, (s) => s.uses?.startsWith('aws-actions/amazon-ecr-login@') ?? false)).toBeLessThan(push);
  });

  it('rolls out to staging with the migration Job and the canary analysis, and runs the smoke tests there through the load balancer', () => {
    const staging = deploy.jobs['deploy-staging'];
    expect(staging.needs).toBe('build');
    const runs = staging.steps.map((s) => s.run ?? '').join('\n');
    expect(runs).toContain('scripts/deploy/check-render.sh deployment/kubernetes/overlays/staging "$IMAGE"');
    expect(runs).toContain('scripts/deploy/apply-overlay.sh deployment/kubernetes/overlays/staging "$IMAGE"');
    expect(runs).toContain('scripts/smoke-tests.sh "$STAGING_URL" --wait 120 --public');
    expect(stepIndex(staging, (s) => s.run?.includes('smoke-tests.sh') ?? false)).toBeGreaterThan(
      stepIndex(staging, (s) => s.run?.includes('apply-overlay.sh') ?? false),
    );
  });

  it('syncs production after staging, waits for the analysis of this very revision (Progressing, then Succeeded or Failed), never for a condition the previous release left', () => {
    const prod = deploy.jobs['deploy-production'];
    expect(prod.needs).toEqual(['build', 'deploy-staging']);
    const runs = prod.steps.map((s) => s.run ?? '').join('\n');
    expect(runs).toContain('argocd app sync "$ARGOCD_APP" --grpc-web --prune');
    expect(text).not.toMatch(/condition=Promoted|--for=condition/);
    const canary = stepIndex(prod, (s) => s.id === 'canary');
    expect(prod.steps[canary].run).toContain('scripts/deploy/flagger.sh wait "$IMAGE"');
    expect(canary).toBeGreaterThan(stepIndex(prod, (s) => s.run?.includes('argocd app sync "$ARGOCD_APP" --grpc-web --prune') ?? false));
    // The error rate is measured after the analysis promoted the release.
    expect(stepIndex(prod, (s) => s.id === 'errorrate')).toBeGreaterThan(canary);
  });

  it('undoes a bad release in under two minutes: the previous image pinned on the primary (no new analysis while the bad one serves), the branch put back', () => {
    const prod = deploy.jobs['deploy-production'];
    const check = prod.steps.find((s) => s.id === 'errorrate')!;
    expect(check.run).toMatch(
      /error-rate-check\.sh >check\.log 2>&1 \|\| rc=\$\?[\s\S]*1\)[\s\S]*flagger\.sh pin-primary "\$PREVIOUS_IMAGE"[\s\S]*git push --force-with-lease[\s\S]*"\$PREVIOUS_COMMIT:refs\/heads\/\$PROD_BRANCH"[\s\S]*exit "\$rc"/,
    );
    expect(check.run).not.toMatch(/argocd app set/);
    expect(read('scripts/deploy/flagger.sh')).toMatch(/^PIN_TIMEOUT="\$\{PIN_TIMEOUT:-120s\}"$/m);
    expect(read('scripts/deploy/error-rate-check.sh')).toContain('MAX_ERROR_RATE="${MAX_ERROR_RATE:-0.01}"');
    // A failed analysis: Flagger already serves the previous release; the branch follows.
    const back = prod.steps.find((s) => s.if?.includes("steps.canary.outcome == 'failure'"));
    expect(back?.run).toContain('"$PREVIOUS_COMMIT:refs/heads/$PROD_BRANCH"');
  });

  it('tells Slack the outcome of every run, and why: the canary\'s verdict and the error-rate check\'s, "no figure" with its reason', () => {
    const notify = deploy.jobs.notify;
    expect(notify.if).toBe('always()');
    expect(notify.needs).toEqual(['ci', 'build', 'deploy-staging', 'deploy-production']);
    const step = notify.steps[0];
    expect(step.env).toMatchObject({
      SLACK_WEBHOOK_URL: '${{ secrets.SLACK_WEBHOOK_URL }}',
      CANARY: '${{ needs.deploy-production.outputs.canary }}',
      ERROR_RATE: '${{ needs.deploy-production.outputs.error_rate }}',
    });
    expect(step.run).toContain('error rate: $ERROR_RATE');
    expect(step.run).toMatch(/jq -n --arg text "\$text"/);
    expect(deploy.jobs['deploy-production'].outputs).toEqual({
      canary: '${{ steps.canary.outputs.verdict }}',
      error_rate: '${{ steps.errorrate.outputs.verdict }}',
    });
    const check = deploy.jobs['deploy-production'].steps.find((s) => s.id === 'errorrate')!.run!;
    expect(check).toMatch(/\*\)[\s\S]*echo "verdict=no figure, the release is NOT verified: \$verdict" >>"\$GITHUB_OUTPUT"/);
  });

  it("uses no action by a movable reference (the seed's versions run on retired Node releases)", () => {
    const uses = [...allSteps, ...workflow('ci.yml').jobs.ci.steps].map((s) => s.uses).filter((u): u is string => u !== undefined);
    expect(uses.length).toBeGreaterThan(10);
    for (const u of uses) expect(u).toMatch(/^[\w.-]+\/[\w./-]+@[0-9a-f]{40}$/);
    for (const old of [
      'actions/checkout@v3',
      'aws-actions/configure-aws-credentials@v2',
      'aws-actions/amazon-ecr-login@v1',
      'trivy-action@master',
      '8398a7/action-slack',
    ])
      expect(text).not.toContain(old);
  });
});
