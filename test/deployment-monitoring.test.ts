/**
 * Issue 20, point 5: monitoring wired by parameter. The ServiceMonitor and the PrometheusRule carry the
 * label the overlay's Prometheus selects them by, the MetricTemplates ask the overlay's Prometheus, the
 * metrics ports admit the overlay's monitoring namespace; a render without those parameters is refused,
 * and the release gate (scripts/deploy/check-render.sh) refuses example values in production.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse } from 'yaml';
import { ROOT } from './support/env';
import { find, K8S, ofKind, overlayCopy, render, runScript, setValues, tool, tryRender } from './support/deployment';

const OVERLAYS = ['overlays/prod', 'overlays/staging'];
const environment = (overlay: string) =>
  parse(fs.readFileSync(path.join(K8S, overlay, 'environment.yaml'), 'utf8')).data as Record<string, string>;

beforeAll(() => {
  tool('kustomize');
});

describe('monitoring wired by parameter', () => {
  it.each(OVERLAYS)(
    "%s: ServiceMonitor and PrometheusRule carry the release label, the templates ask the overlay's Prometheus, the metrics ports admit its namespace",
    (dir) => {
      const ms = render(dir);
      const env = environment(dir);
      expect(env.PROMETHEUS_RELEASE).toMatch(/\S/);
      for (const kind of ['ServiceMonitor', 'PrometheusRule'])
        expect(find(ms, kind, 'lms').metadata.labels?.release).toBe(env.PROMETHEUS_RELEASE);
      const templates = ofKind(ms, 'MetricTemplate');
      expect(templates.length).toBe(2);
      for (const t of templates) expect(t.spec.provider.address).toBe(env.PROMETHEUS_URL);
      for (const [policy, port] of [
        ['lms-api-ingress', 'metrics'],
        ['lms-worker-ingress', 'health'],
      ]) {
        const rules = (find(ms, 'NetworkPolicy', policy).spec.ingress as Array<{ from?: any[]; ports: Array<{ port: string }> }>).filter(
          (r) => r.ports.some((p) => p.port === port),
        );
        expect(rules).toHaveLength(1);
        expect(rules[0].from).toEqual([
          { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': env.PROMETHEUS_NAMESPACE } } },
        ]);
      }
    },
  );

  it.each(['PROMETHEUS_RELEASE', 'PROMETHEUS_URL'])('a prod render without %s is refused', (key) => {
    const copy = overlayCopy('overlays/prod', (dir) => {
      const file = path.join(dir, 'environment.yaml');
      fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace(new RegExp(`^\\s*${key}:.*\\n`, 'm'), ''));
    });
    try {
      const { manifests, error } = tryRender(copy.dir);
      expect(manifests).toBeUndefined();
      expect(error).toContain(`data.${key}`);
    } finally {
      copy.cleanup();
    }
  });
});

describe('the release gate (scripts/deploy/check-render.sh)', () => {
  const GATE = 'scripts/deploy/check-render.sh';
  const DIGEST_IMAGE = `111122223333.dkr.ecr.eu-west-1.amazonaws.com/legacy-migration-service@sha256:${'4e'.repeat(32)}`;

  it('refuses production as committed: example values (EXAMPLE, 123456789012, example-org) and an image by tag', () => {
    const r = runScript(GATE, ['deployment/kubernetes/overlays/prod', '--application', 'deployment/argocd/application-prod.yaml'], {
      KUSTOMIZE: tool('kustomize'),
    });
    expect(r.status).toBe(1);
    for (const needle of ['EXAMPLE', '123456789012', 'example-org', 'image not pinned by digest']) expect(r.stderr).toContain(needle);
  });

  it('accepts production with its own values and the release image by digest; refuses the same with one placeholder left', () => {
    const real = {
      PROMETHEUS_URL: 'http://prometheus-operated.observability:9090',
      PUBLIC_HOST: 'api.conversations.acme-corp.net',
      AWS_ROLE_ARN: 'arn:aws:iam::111122223333:role/legacy-migration-service-prod',
      EGRESS_STORES_CIDR: '10.40.16.0/20',
      EGRESS_HTTPS_CIDR: '10.40.32.0/24',
    };
    const config = {
      ROUTE53_HOSTED_ZONE_ID: 'Z04211233KJQ6P1ABCDEF',
      ROUTE53_RECORD_NAME: 'api.conversations.acme-corp.net',
      ROUTE53_LEGACY_TARGET: 'alias:Z35SXDOTRQ7X7K:legacy-alb-1234567890.us-east-1.elb.amazonaws.com:evaluate',
      ROUTE53_NEW_TARGET: 'alias:Z35SXDOTRQ7X7K:new-alb-1234567890.us-east-1.elb.amazonaws.com:evaluate',
      ARCHIVE_S3_BUCKET: 'acme-legacy-conversations-archive-prod',
    };
    const filled = overlayCopy('overlays/prod', (dir) => {
      setValues(path.join(dir, 'environment.yaml'), real);
      setValues(path.join(dir, 'config.env'), config);
    });
    const app = path.join(filled.dir, 'application.yaml');
    fs.writeFileSync(
      app,
      fs.readFileSync(path.join(ROOT, 'deployment/argocd/application-prod.yaml'), 'utf8').replace('example-org', 'acme-corp'),
    );
    try {
      const ok = runScript(GATE, [filled.relative, DIGEST_IMAGE, '--application', path.relative(ROOT, app)], {
        KUSTOMIZE: tool('kustomize'),
      });
      expect({ status: ok.status, stderr: ok.stderr }).toEqual({ status: 0, stderr: '' });
      setValues(path.join(filled.dir, 'environment.yaml'), { EGRESS_HTTPS_CIDR: '203.0.113.0/24' });
      const refused = runScript(GATE, [filled.relative, DIGEST_IMAGE], { KUSTOMIZE: tool('kustomize') });
      expect(refused.status).toBe(1);
      expect(refused.stderr).toContain('203.0.113.0/24');
    } finally {
      filled.cleanup();
    }
  });
});
