/**
 * Issue 20, point 4: GitOps without drift. Production tracks a release ref that only the release workflow
 * writes, and the release image lives in git (the digest committed to overlays/prod), never as an Argo CD
 * override that re-creating the Application would lose; generated ConfigMaps are pruned last; Argo CD
 * tracks by annotation, so Flagger's copies are not taken for its own.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { ROOT } from './support/env';
import { ofKind, render, tool } from './support/deployment';

const read = (file: string) => fs.readFileSync(path.join(ROOT, file), 'utf8');
const application = () => parse(read('deployment/argocd/application-prod.yaml'));
type Step = { name?: string; run?: string; uses?: string; if?: string };
const deploy = () =>
  parse(read('.github/workflows/deploy.yml')) as { jobs: Record<string, { steps: Step[]; permissions?: Record<string, string> }> };

beforeAll(() => {
  tool('kustomize');
});

describe('production follows a release ref', () => {
  it('the Application tracks the production branch, not main, and holds no image of its own', () => {
    const app = application();
    expect(app.spec.source.targetRevision).toBe('production');
    expect(app.spec.source).not.toHaveProperty('kustomize');
    expect(read('.github/workflows/deploy.yml')).not.toMatch(/--kustomize-image|argocd app set/);
  });

  it('the release commits the image digest to overlays/prod on that branch, after the render is accepted, and syncs it', () => {
    const prod = deploy().jobs['deploy-production'];
    expect(prod.permissions).toMatchObject({ contents: 'write' });
    const runs = prod.steps.map((s) => s.run ?? '');
    const commit = runs.findIndex((r) => r.includes('kustomize edit set image "legacy-migration-service=$IMAGE"'));
    expect(commit).toBeGreaterThanOrEqual(0);
    expect(runs[commit]).toMatch(
      /cd deployment\/kubernetes\/overlays\/prod[\s\S]*check-render\.sh deployment\/kubernetes\/overlays\/prod[\s\S]*git commit[\s\S]*git push --force-with-lease="refs\/heads\/\$PROD_BRANCH:\$PREVIOUS_COMMIT" origin "HEAD:refs\/heads\/\$PROD_BRANCH"/,
    );
    expect(read('.github/workflows/deploy.yml')).toMatch(/^ {2}PROD_BRANCH: production$/m);
    const sync = runs.findIndex((r) => r.includes('argocd app sync'));
    expect(sync).toBeGreaterThan(commit);
    // The build hands on a reference by digest.
    expect(read('.github/workflows/deploy.yml')).toContain('echo "image=$REPOSITORY@$DIGEST" >>"$GITHUB_OUTPUT"');
  });
});

describe('what Argo CD syncs', () => {
  it.each(['overlays/prod', 'overlays/staging'])(
    '%s: every generated ConfigMap is pruned last (old pods keep theirs during the sync)',
    (dir) => {
      const ms = render(dir);
      const generated = ofKind(ms, 'ConfigMap').filter((c) => /-[a-z0-9]{10}$/.test(c.metadata.name));
      expect(generated.map((c) => c.metadata.name.replace(/-[a-z0-9]{10}$/, '')).sort()).toEqual(['lms-config', 'lms-loadtest']);
      for (const c of generated)
        expect({ name: c.metadata.name, options: c.metadata.annotations?.['argocd.argoproj.io/sync-options'] }).toEqual({
          name: c.metadata.name,
          options: expect.stringContaining('PruneLast=true'),
        });
    },
  );

  it("Argo CD tracks resources by annotation (Flagger copies the target's labels to the primary)", () => {
    const docs = parseAllDocuments(read('deployment/argocd/argocd-cm-patch.yaml')).map((d) => d.toJS());
    const cm = docs.find((d) => d?.kind === 'ConfigMap' && d.metadata.name === 'argocd-cm');
    expect(cm?.metadata.namespace).toBe('argocd');
    expect(cm?.data['application.resourceTrackingMethod']).toBe('annotation');
  });
});
