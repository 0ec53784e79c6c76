/**
 * The delivery files other than the manifests: the image (Dockerfile, .dockerignore, engines) and the
 * GitHub workflows (.github/workflows), read as data. actionlint checks their syntax
 * (scripts/ci/validate-deploy.sh); these tests check what they do.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse } from 'yaml';
import { ROOT } from './support/env';

const read = (file: string) => fs.readFileSync(path.join(ROOT, file), 'utf8');

type Step = { name?: string; id?: string; uses?: string; run?: string; if?: string; with?: Record<string, unknown>; env?: Record<string, string> };
type Job = { needs?: string | string[]; if?: string; permissions?: Record<string, string>; environment?: unknown; steps: Step[]; outputs?: Record<string, string> };
const workflow = (file: string) => parse(read(`.github/workflows/${file}`)) as { on: any; permissions?: Record<string, string>; jobs: Record<string, Job> };
const stepIndex = (job: Job, match: (s: Step) => boolean) => {
  const i = job.steps.findIndex(match);
  if (i < 0) throw new Error(`no such step in ${JSON.stringify(job.steps.map((s) => s.name ?? s.uses))}`);
  return i;
};

describe('the image', () => {
  const dockerfile = read('Dockerfile');

  it('builds and runs on Node 24 LTS as the unprivileged node user', () => {
    expect([...dockerfile.matchAll(/^FROM (\S+)/gm)].map((m) => m[1])).toEqual(['node:24-bookworm-slim', 'node:24-bookworm-slim']);
    expect(dockerfile).toMatch(/^USER node$/m);
  });

  it('owns the archive folder by the runtime user and checks health through the probe (API or worker)', () => {
    expect(dockerfile).toMatch(/mkdir -p \/var\/lib\/legacy-migration\/archive[\s\S]*chown -R node:node \/var\/lib\/legacy-migration/);
    expect(dockerfile).toMatch(/^HEALTHCHECK [\s\S]*CMD \["node", "dist\/src\/health\/probe\.js"\]$/m);
    expect(dockerfile).toContain('test -f dist/workers/migrate.js');
    expect(read('docker-compose.yml')).toContain('ARCHIVE_DIR: ${ARCHIVE_DIR:-/var/lib/legacy-migration/archive}');
  });

  it('leaves bench, scripts, tests and local tooling out of the build context', () => {
    const ignored = read('.dockerignore').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
    for (const entry of ['bench', 'scripts', 'test', 'tools', '.tools', '.local', 'node_modules', '.env', '.env.*', 'deployment']) expect(ignored).toContain(entry);
    expect(dockerfile).toContain('test ! -e dist/scripts && test ! -e dist/bench');
  });

  it('keeps in the build context every script `npm run build` runs (the dashboard bundler), and only those', () => {
    const ignored = read('.dockerignore').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
    const buildScripts = [...String(JSON.parse(read('package.json')).scripts.build).matchAll(/node (scripts\/\S+)/g)].map((m) => m[1]);
    expect(buildScripts).toEqual(['scripts/build-dashboard.js']);
    expect(ignored.filter((l) => l.startsWith('!'))).toEqual(buildScripts.map((f) => `!${f}`));
  });

  it('package.json requires the image\'s Node 24 (Node 20 is end of life; scripts/lib/node24.sh installs 24 where the machine is older)', () => {
    const { engines, devDependencies } = JSON.parse(read('package.json'));
    expect(engines.node).toBe('>=24.0.0 <25');
    expect(devDependencies['@types/node']).toMatch(/^24\./);
    expect(read('Dockerfile')).toMatch(/FROM node:24/);
  });
});

describe('ci.yml', () => {
  const ci = workflow('ci.yml');

  it('runs .ci/run (ending with the README\'s npm test) on pushes to main and pull requests', () => {
    expect(Object.keys(ci.on)).toEqual(['push', 'pull_request']);
    const steps = ci.jobs.ci.steps;
    expect(steps[steps.length - 1]).toMatchObject({ run: '.ci/run', 'working-directory': 'legacy-migration-service' });
    expect(read('.ci/run')).toMatch(/stage "npm test" run_tests\s*$/);
    expect(ci.permissions).toEqual({ contents: 'read' });
  });
});

describe('deploy.yml', () => {
  const deploy = workflow('deploy.yml');
  const text = read('.github/workflows/deploy.yml');
  const allSteps = Object.values(deploy.jobs).flatMap((j) => j.steps);

  it('runs on version tags only', () => {
    expect(deploy.on).toEqual({ push: { tags: ['v*.*.*'] } });
  });

  it('assumes an AWS role through OIDC: no static keys anywhere', () => {
    expect(text).not.toMatch(/aws-access-key-id|aws-secret-access-key|AWS_SECRET_ACCESS_KEY|AWS_ACCESS_KEY_ID/);
    for (const [name, job] of Object.entries(deploy.jobs)) {
      const aws = job.steps.filter((s) => s.uses?.startsWith('aws-actions/configure-aws-credentials@'));
      for (const s of aws) expect(s.with).toMatchObject({ 'role-to-assume': '${{ vars.AWS_DEPLOY_ROLE_ARN }}' });
      if (aws.length > 0) expect({ name, idToken: job.permissions?.['id-token'] }).toEqual({ name, idToken: 'write' });
    }
    expect(deploy.permissions).toEqual({ contents: 'read' });
  });

  it('scans the built image with Trivy (CRITICAL and HIGH fail it), uploads the SARIF whatever the result, and pushes only after the scan', () => {
    const build = deploy.jobs.build;
    const scan = stepIndex(build, (s) => s.uses?.startsWith('aquasecurity/trivy-action@') ?? false);
    expect(build.steps[scan].uses).toMatch(/^aquasecurity\/trivy-action@[0-9a-f]{40} # v\d+\.\d+\.\d+$|^aquasecurity\/trivy-action@[0-9a-f]{40}$/);
    expect(build.steps[scan].with).toMatchObject({ format: 'sarif', output: 'trivy-results.sarif', severity: 'CRITICAL,HIGH', 'exit-code': '1' });
    const upload = stepIndex(build, (s) => s.uses?.startsWith('github/codeql-action/upload-sarif@') ?? false);
    expect(upload).toBeGreaterThan(scan);
    expect(build.steps[upload].if).toMatch(/failure\(\)|always\(\)/);
    expect(build.steps[upload].with).toMatchObject({ sarif_file: 'trivy-results.sarif' });
    const push = stepIndex(build, (s) => s.run?.includes('docker push') ?? false);
    expect(push).toBeGreaterThan(scan);
    expect(build.permissions).toMatchObject({ 'security-events': 'write' });
    expect(stepIndex(build, (s) => s.uses?.startsWith('aws-actions/amazon-ecr-login@') ?? false)).toBeLessThan(push);
  });

  it('rolls out to staging with the migration Job and runs the smoke tests there', () => {
    const staging = deploy.jobs['deploy-staging'];
    expect(staging.needs).toBe('build');
    const runs = staging.steps.map((s) => s.run ?? '').join('\n');
    expect(runs).toContain('scripts/deploy/apply-overlay.sh deployment/kubernetes/overlays/staging "$IMAGE"');
    expect(runs).toContain('scripts/smoke-tests.sh "$STAGING_URL"');
    expect(stepIndex(staging, (s) => s.run?.includes('smoke-tests.sh') ?? false)).toBeGreaterThan(stepIndex(staging, (s) => s.run?.includes('apply-overlay.sh') ?? false));
  });

  it('syncs production through Argo CD after staging, waits for the canary, and undoes the release above 1 % errors', () => {
    const prod = deploy.jobs['deploy-production'];
    expect(prod.needs).toEqual(['build', 'deploy-staging']);
    const runs = prod.steps.map((s) => s.run ?? '').join('\n');
    expect(runs).toContain('argocd app set "$ARGOCD_APP" --grpc-web --kustomize-image "legacy-migration-service=$IMAGE"');
    expect(runs).toContain('argocd app sync "$ARGOCD_APP" --grpc-web --prune');
    expect(runs).toContain('wait canary/lms-api --for=condition=Promoted');
    const check = prod.steps.find((s) => s.run?.includes('error-rate-check.sh'))!;
    expect(check.run).toMatch(/error-rate-check\.sh \|\| rc=\$\?[\s\S]*if \[ "\$rc" = 1 \]; then[\s\S]*argocd app set[\s\S]*argocd app sync[\s\S]*exit "\$rc"/);
    expect(read('scripts/deploy/error-rate-check.sh')).toContain('MAX_ERROR_RATE="${MAX_ERROR_RATE:-0.01}"');
  });

  it('tells Slack the outcome of every run', () => {
    const notify = deploy.jobs.notify;
    expect(notify.if).toBe('always()');
    expect(notify.needs).toEqual(['build', 'deploy-staging', 'deploy-production']);
    expect(notify.steps[0].uses).toMatch(/^slackapi\/slack-github-action@v\d+$/);
    expect(notify.steps[0].with).toMatchObject({ webhook: '${{ secrets.SLACK_WEBHOOK_URL }}', 'webhook-type': 'incoming-webhook' });
  });

  it('pins every action to a release (a major tag or a commit), never a branch', () => {
    const uses = [...allSteps, ...workflow('ci.yml').jobs.ci.steps].map((s) => s.uses).filter((u): u is string => u !== undefined);
    expect(uses.length).toBeGreaterThan(10);
    for (const u of uses) expect(u).toMatch(/^[\w.-]+\/[\w./-]+@(v\d+(\.\d+){0,2}|[0-9a-f]{40})( # v[\d.]+)?$/);
    // The seed's versions run on retired Node releases.
    for (const old of ['actions/checkout@v3', 'aws-actions/configure-aws-credentials@v2', 'aws-actions/amazon-ecr-login@v1', 'trivy-action@master', '8398a7/action-slack']) expect(text).not.toContain(old);
  });
});
