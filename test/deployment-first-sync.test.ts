/**
 * Issue 20, point 1: the first sync on an empty namespace. Argo CD runs PreSync hooks before it creates
 * anything of the Sync phase, so the migration Job may use only what exists by then: a ServiceAccount that
 * is itself a PreSync hook of an earlier wave, and the Secret the first deploy puts in place before the
 * first sync; without the Secret it fails at once instead of hanging until its deadline. kubectl (staging)
 * creates no namespace, so the staging overlay brings its own. (The lock_timeout of the migrations
 * themselves: test/migrations-lock.test.ts.)
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { MIGRATE_EXIT_NOT_CONFIGURED } from '../src/stores/postgres/migration-runner';
import { ROOT } from './support/env';
import { find, Manifest, ofKind, render, tool } from './support/deployment';

const OVERLAYS = ['overlays/prod', 'overlays/staging'];
const annotation = (m: Manifest, key: string) => m.metadata.annotations?.[key];
const wave = (m: Manifest) => Number(annotation(m, 'argocd.argoproj.io/sync-wave') ?? '0');

beforeAll(() => {
  tool('kustomize');
});

describe('the first sync on an empty namespace', () => {
  it.each(OVERLAYS)('%s: the PreSync migration Job runs as a ServiceAccount that exists at PreSync (a hook of an earlier wave)', (dir) => {
    const ms = render(dir);
    const job = find(ms, 'Job', 'lms-migrate');
    expect(annotation(job, 'argocd.argoproj.io/hook')).toBe('PreSync');
    const name = job.spec.template.spec.serviceAccountName as string;
    if (name === 'default') return; // every namespace has it (the other answer the issue allows)
    const sa = find(ms, 'ServiceAccount', name);
    expect({ name, hook: annotation(sa, 'argocd.argoproj.io/hook') }).toEqual({ name, hook: 'PreSync' });
    expect(wave(sa)).toBeLessThan(wave(job));
    expect(annotation(sa, 'argocd.argoproj.io/hook-delete-policy')).toBe('BeforeHookCreation');
    expect((sa as Manifest & { automountServiceAccountToken?: boolean }).automountServiceAccountToken).toBe(false);
    // kubectl applies the Job with its ServiceAccount (scripts/deploy/apply-overlay.sh selects by this label).
    expect(sa.metadata.labels?.['app.kubernetes.io/component']).toBe('migration');
  });

  it.each(OVERLAYS)(
    '%s: without lms-secrets the Job fails at once (optional reference, exit status FailJob) instead of waiting for its deadline',
    (dir) => {
      const job = find(render(dir), 'Job', 'lms-migrate');
      const [container] = job.spec.template.spec.containers;
      expect(container.env).toEqual([
        { name: 'DATABASE_URL', valueFrom: { secretKeyRef: { name: 'lms-secrets', key: 'DATABASE_URL', optional: true } } },
      ]);
      expect(job.spec.template.spec.restartPolicy).toBe('Never');
      expect(job.spec.podFailurePolicy.rules).toContainEqual({
        action: 'FailJob',
        onExitCodes: { containerName: container.name, operator: 'In', values: [MIGRATE_EXIT_NOT_CONFIGURED] },
      });
    },
  );

  it('the migration program exits with that status when DATABASE_URL is missing', () => {
    const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'lms-migrate-')); // no .env.local here
    try {
      const r = spawnSync(
        process.execPath,
        ['-r', path.join(ROOT, 'node_modules/ts-node/register'), path.join(ROOT, 'workers/migrate.ts'), 'run'],
        {
          cwd,
          encoding: 'utf8',
          env: { PATH: process.env.PATH, TS_NODE_PROJECT: path.join(ROOT, 'tsconfig.json'), TS_NODE_TRANSPILE_ONLY: 'true' },
          timeout: 60_000,
        },
      );
      expect({ status: r.status, stderr: r.stderr.trim() }).toEqual({
        status: MIGRATE_EXIT_NOT_CONFIGURED,
        stderr: expect.stringContaining('DATABASE_URL is not set'),
      });
    } finally {
      fs.rmSync(cwd, { recursive: true, force: true });
    }
  });

  it.each(OVERLAYS)(
    '%s: the ServiceAccount and the secrets are in place before the workloads (wave -1), and can be applied alone by label',
    (dir) => {
      const ms = render(dir);
      const early = [find(ms, 'ServiceAccount', 'lms'), find(ms, 'SecretStore', 'lms-aws'), find(ms, 'ExternalSecret', 'lms-secrets')];
      for (const m of early) {
        expect({ object: `${m.kind}/${m.metadata.name}`, wave: wave(m) }).toEqual({ object: `${m.kind}/${m.metadata.name}`, wave: -1 });
        expect(['identity', 'secrets']).toContain(m.metadata.labels?.['app.kubernetes.io/component']);
      }
      for (const d of ofKind(ms, 'Deployment')) expect(wave(d)).toBeGreaterThan(-1);
    },
  );

  it('staging: the overlay creates its namespace, in the Istio mesh (kubectl has no CreateNamespace)', () => {
    const ms = render('overlays/staging');
    const namespace = ms.find((m) => m.metadata.namespace)!.metadata.namespace;
    const [ns] = ofKind(ms, 'Namespace');
    expect(ns?.metadata.name).toBe(namespace);
    expect(ns.metadata.labels).toMatchObject({ 'istio-injection': 'enabled', 'app.kubernetes.io/component': 'namespace' });
  });
});
