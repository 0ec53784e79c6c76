/**
 * Issue 20, point 6: supply chain. Secrets come from AWS Secrets Manager through an ExternalSecret (the
 * service's IRSA role), never a hand-made Secret; the workers are rolled when the Secret rotates; images
 * are deployed by digest and pulled IfNotPresent; the base image and every action are pinned by commit or
 * digest; Trivy ignores what has no fix; the pushed image carries its SBOM.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse } from 'yaml';
import { ROOT } from './support/env';
import { find, Manifest, ofKind, ourWorkloads, render, tool, validate } from './support/deployment';

const OVERLAYS = ['overlays/prod', 'overlays/staging'];
const EVERY_RENDER = [
  ...OVERLAYS,
  'strategies/rolling',
  'strategies/recreate',
  'strategies/blue-green',
  'strategies/istio-canary',
  'strategies/flagger-canary',
];
const read = (file: string) => fs.readFileSync(path.join(ROOT, file), 'utf8');
type Step = { name?: string; id?: string; uses?: string; run?: string; if?: string; with?: Record<string, unknown> };
const workflow = (file: string) => parse(read(`.github/workflows/${file}`)) as { jobs: Record<string, { steps?: Step[]; uses?: string }> };
/** Names of the Secrets a workload's containers read. */
const secretsRead = (w: Manifest) =>
  new Set(
    (w.spec.template.spec.containers as Array<{ env?: Array<{ valueFrom?: { secretKeyRef?: { name: string } } }> }>).flatMap((c) =>
      (c.env ?? []).map((e) => e.valueFrom?.secretKeyRef?.name).filter((n): n is string => !!n),
    ),
  );

beforeAll(() => {
  tool('kustomize');
  tool('kubeconform');
});

describe('secrets from Secrets Manager', () => {
  it.each(EVERY_RENDER)(
    '%s: every Secret a pod reads is made by an ExternalSecret from the AWS store the IRSA role reads; no Secret in the render',
    (dir) => {
      const ms = render(dir);
      expect(ofKind(ms, 'Secret')).toEqual([]);
      const made = new Map(ofKind(ms, 'ExternalSecret').map((e) => [e.spec.target.name as string, e]));
      const read = new Set(ms.filter((m) => m.kind === 'Deployment' || m.kind === 'Job').flatMap((w) => [...secretsRead(w)]));
      expect([...read].sort()).toEqual(['lms-secrets']);
      for (const name of read) {
        const es = made.get(name)!;
        expect(es).toBeDefined();
        expect(es.spec.target.creationPolicy).toBe('Owner');
        const store = find(ms, es.spec.secretStoreRef.kind, es.spec.secretStoreRef.name);
        expect(store.spec.provider.aws).toMatchObject({ service: 'SecretsManager', auth: { jwt: { serviceAccountRef: { name: 'lms' } } } });
        expect(find(ms, 'ServiceAccount', 'lms').metadata.annotations?.['eks.amazonaws.com/role-arn']).toMatch(
          /^arn:aws:iam::\d{12}:role\/.+/,
        );
      }
      expect(validate(ms.filter((m) => ['ExternalSecret', 'SecretStore'].includes(m.kind)))).toMatch(/Invalid: 0/);
    },
  );

  it.each(OVERLAYS)(
    '%s: the workers and the load tester are rolled when a Secret they read changes (Reloader); the API is re-analysed by Flagger',
    (dir) => {
      const ms = render(dir);
      const rolled = ofKind(ms, 'Deployment').filter((d) =>
        ['worker', 'loadtester'].includes(d.metadata.labels?.['app.kubernetes.io/component'] ?? ''),
      );
      expect(rolled.length).toBe(4);
      for (const d of rolled) {
        const listed = (d.metadata.annotations?.['secret.reloader.stakater.com/reload'] ?? '')
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean);
        expect({ deployment: d.metadata.name, reload: listed.sort() }).toEqual({
          deployment: d.metadata.name,
          reload: [...secretsRead(d)].sort(),
        });
      }
      // Flagger tracks the Secrets its target reads: a rotation starts an analysis of the API.
      expect(find(ms, 'Canary', 'lms-api').spec.targetRef.name).toBe('lms-api');
    },
  );
});

describe('images', () => {
  it.each(OVERLAYS)('%s: every container is pulled IfNotPresent (deployed by digest, an image never changes under its name)', (dir) => {
    for (const w of render(dir).filter((m) => m.kind === 'Deployment' || m.kind === 'Job')) {
      for (const c of w.spec.template.spec.containers)
        expect({ workload: w.metadata.name, policy: c.imagePullPolicy }).toEqual({ workload: w.metadata.name, policy: 'IfNotPresent' });
    }
  });

  it("the release deploys by digest: staging and production get the build's image@sha256 reference", () => {
    const text = read('.github/workflows/deploy.yml');
    expect(text).toMatch(/image: \$\{\{ steps\.pushed\.outputs\.image \}\}/);
    expect(text).toContain('[[ $DIGEST =~ ^sha256:[0-9a-f]{64}$ ]]');
    const r = ourWorkloads(render('overlays/prod'));
    expect(r.length).toBe(5);
  });

  it('the base image is pinned by digest, the same in both stages', () => {
    const froms = [...read('Dockerfile').matchAll(/^FROM (\S+)/gm)].map((m) => m[1]);
    expect(froms).toHaveLength(2);
    for (const f of froms) expect(f).toMatch(/^node:24-bookworm-slim@sha256:[0-9a-f]{64}$/);
    expect(new Set(froms).size).toBe(1);
  });
});

describe('the workflows', () => {
  const all = ['ci.yml', 'deploy.yml'].flatMap((file) =>
    Object.values(workflow(file).jobs).flatMap((j) => (j.steps ?? []).map((s) => ({ file, uses: s.uses }))),
  );

  it('pin every action to a full commit SHA, with its release in a comment', () => {
    const lines = ['ci.yml', 'deploy.yml'].flatMap((file) =>
      read(`.github/workflows/${file}`)
        .split('\n')
        .filter((l) => /^\s*(- )?uses: /.test(l))
        .map((l) => ({ file, line: l.trim().replace(/^- /, '') })),
    );
    expect(lines.length).toBeGreaterThan(15);
    for (const { file, line } of lines) {
      if (line === 'uses: ./.github/workflows/ci.yml') continue; // this repository's own workflow, at the same commit
      expect({ file, line }).toEqual({ file, line: expect.stringMatching(/^uses: [\w.-]+\/[\w./-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$/) });
    }
    expect(all.filter((s) => s.uses).length).toBeGreaterThan(15);
  });

  it('scan with Trivy ignoring vulnerabilities without a fix, and push the scanned image with its SBOM and provenance', () => {
    const build = workflow('deploy.yml').jobs.build.steps!;
    const scan = build.findIndex((s) => s.uses?.startsWith('aquasecurity/trivy-action@'));
    expect(build[scan].with).toMatchObject({ 'ignore-unfixed': true, severity: 'CRITICAL,HIGH', 'exit-code': '1' });
    const push = build.findIndex((s) => s.uses?.startsWith('docker/build-push-action@') && s.with?.push === true);
    expect(push).toBeGreaterThan(scan);
    expect(build[push].with).toMatchObject({ sbom: true, provenance: 'mode=max' });
    const check = build.findIndex((s) => s.id === 'pushed');
    expect(check).toBeGreaterThan(push);
    expect(build[check].run).toMatch(/is not the scanned one/);
  });
});
