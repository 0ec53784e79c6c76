/**
 * Issue 20, point 7: capacity and blast radius. PostgreSQL connections budgeted for the largest replica
 * count and written in the runbook (with PgBouncer's pooling modes against the advisory locks); the API
 * scaled on its request rate, not CPU; one disruption budget per API Deployment; egress only to the CIDRs
 * the overlay gives; /metrics on a listener no Service, Gateway or load balancer routes to.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse } from 'yaml';
import { MetricsService } from '../src/common/metrics/metrics.service';
import { registerQueueDepth } from '../src/queues/queue-depth';
import { ROOT } from './support/env';
import { find, K8S, Manifest, ofKind, ourWorkloads, render, runScriptAsync, tool } from './support/deployment';
import { FakeApi, startFakeApi } from './support/fake-api';

const OVERLAYS = ['overlays/prod', 'overlays/staging'];
const EVERY_RENDER = [
  ...OVERLAYS,
  'strategies/rolling',
  'strategies/recreate',
  'strategies/blue-green',
  'strategies/istio-canary',
  'strategies/flagger-canary',
];
const runbook = () => fs.readFileSync(path.join(ROOT, 'docs/runbook.md'), 'utf8');
const config = (ms: Manifest[]) => ofKind(ms, 'ConfigMap').find((c) => c.metadata.name.startsWith('lms-config-'))!.data!;
const selects = (selector: Record<string, string>, labels: Record<string, string>) =>
  Object.entries(selector).every(([k, v]) => labels[k] === v);
const apiDeployments = (ms: Manifest[]) =>
  ofKind(ms, 'Deployment').filter((d) => d.metadata.labels?.['app.kubernetes.io/component'] === 'api');

beforeAll(() => {
  tool('kustomize');
});

describe('PostgreSQL connections', () => {
  /**
   * The most connections the prod render can open at once: each process's pool (DATABASE_POOL_SIZE, its
   * own env over the ConfigMap, and the API's follow-up pool) times its most replicas: the Flagger target and its primary both at the
   * autoscaler's maximum during an analysis, each Deployment one pod above its count while it rolls, the Job.
   */
  function worstCase(ms: Manifest[]): { total: number; parts: Record<string, number> } {
    const setting = (w: Manifest, name: string, fallback: number) =>
      Number(w.spec.template.spec.containers[0].env?.find((e: { name: string }) => e.name === name)?.value ?? config(ms)[name] ?? fallback);
    // The API also follows up its writes on a pool of its own (DATABASE_FOLLOW_POOL_SIZE); workers never open it.
    const pool = (w: Manifest) =>
      setting(w, 'DATABASE_POOL_SIZE', 20) +
      (w.metadata.labels?.['app.kubernetes.io/component'] === 'api' ? setting(w, 'DATABASE_FOLLOW_POOL_SIZE', 6) : 0);
    const canaryTargets = new Set(ofKind(ms, 'Canary').map((c) => c.spec.targetRef.name));
    const hpaMax = new Map([
      ...ofKind(ms, 'HorizontalPodAutoscaler').map((h) => [h.spec.scaleTargetRef.name, h.spec.maxReplicas as number] as const),
      // KEDA makes an autoscaler of its own for a ScaledObject's target, up to maxReplicaCount.
      ...ofKind(ms, 'ScaledObject').map((s) => [s.spec.scaleTargetRef.name, s.spec.maxReplicaCount as number] as const),
    ]);
    const parts: Record<string, number> = {};
    for (const w of ourWorkloads(ms)) {
      if (w.kind === 'Job') {
        parts[w.metadata.name] = 1; // workers/migrate.ts opens a pool of one, whatever DATABASE_POOL_SIZE says
        continue;
      }
      const surge = Number(w.spec.strategy?.rollingUpdate?.maxSurge ?? 1);
      const most = (hpaMax.get(w.metadata.name) ?? w.spec.replicas) + surge;
      parts[w.metadata.name] = (canaryTargets.has(w.metadata.name) ? 2 : 1) * most * pool(w);
    }
    return { total: Object.values(parts).reduce((a, b) => a + b, 0), parts };
  }

  it('the runbook states the worst case of the prod render and the max_connections it needs', () => {
    const { total, parts } = worstCase(render('overlays/prod'));
    expect(parts['lms-api']).toBe(2 * 11 * (20 + 6));
    const stated = /worst case: \*\*(\d+)\*\* connections/i.exec(runbook());
    expect(stated).not.toBeNull();
    expect({ stated: Number(stated![1]), parts }).toEqual({ stated: total, parts });
    const needed = /`max_connections` of at least \*\*(\d+)\*\*/.exec(runbook());
    expect(needed).not.toBeNull();
    expect(Number(needed![1])).toBeGreaterThan(total);
  });

  it('the runbook says which PgBouncer pooling mode each advisory lock survives', () => {
    const text = runbook();
    const section = text.slice(text.indexOf('### PgBouncer or RDS Proxy'));
    expect(section.length).toBeGreaterThan(100);
    for (const needle of ['pg_advisory_xact_lock_shared', 'transaction pooling', 'session pooling', 'pg_advisory_lock', 'migration'])
      expect(section).toContain(needle);
  });
});

describe('autoscaling', () => {
  it.each(EVERY_RENDER)(
    "%s: the API scales on application requests per pod, which the Prometheus adapter serves from the code's own series",
    (dir) => {
      const hpas = ofKind(render(dir), 'HorizontalPodAutoscaler');
      for (const h of hpas) {
        expect(h.spec.metrics.filter((m: { type: string }) => m.type === 'Resource')).toEqual([]);
        expect(h.spec.metrics).toContainEqual({
          type: 'Pods',
          pods: { metric: { name: 'http_requests_per_second' }, target: { type: 'AverageValue', averageValue: expect.any(String) } },
        });
      }
      const rules = parse(fs.readFileSync(path.join(ROOT, 'deployment/monitoring/prometheus-adapter-rules.yaml'), 'utf8')).rules
        .custom as Array<{ seriesQuery: string; name: { as: string }; metricsQuery: string }>;
      const rule = rules.find((r) => r.name.as === 'http_requests_per_second')!;
      expect(rule).toBeDefined();
      const series = /^(\w+)\{/.exec(rule.seriesQuery)![1];
      const registered = new MetricsService().registry.getMetricsAsArray().map((m) => (m as unknown as { name: string }).name);
      expect(registered).toContain(series.replace(/_count$/, ''));
      expect(rule.metricsQuery).toContain('route=~"/conversations.*"');
    },
  );
});

describe("the sync workers scale on the queues' depth (KEDA)", () => {
  const registered = () => {
    const metrics = new MetricsService();
    // queue_jobs is registered by the worker's queue host (src/queues/queue-depth.ts).
    registerQueueDepth(metrics, [], {} as never, 'lms');
    return metrics.registry.getMetricsAsArray().map((m) => (m as unknown as { name: string }).name);
  };

  it.each(OVERLAYS)(
    "%s: a ScaledObject on lms-worker-sync asks this namespace's Prometheus for queue_jobs, one worker per lane, as many lanes as workers at most",
    (dir) => {
      const ms = render(dir);
      const [so] = ofKind(ms, 'ScaledObject');
      const env = parse(fs.readFileSync(path.join(K8S, dir, 'environment.yaml'), 'utf8')).data as Record<string, string>;
      expect(so.spec.scaleTargetRef).toMatchObject({ kind: 'Deployment', name: 'lms-worker-sync' });
      const [trigger] = so.spec.triggers;
      expect(trigger.type).toBe('prometheus');
      expect(trigger.metadata.serverAddress).toBe(env.PROMETHEUS_URL);
      expect(trigger.metadata.query).toContain(`namespace="${find(ms, 'Deployment', 'lms-worker-sync').metadata.namespace}"`);
      expect(trigger.metadata.query).toMatch(
        /queue_jobs\{[^}]*queue=~"backfill\|verify\|catchup"[^}]*state=~"waiting\|prioritized\|active"/,
      );
      expect(registered()).toContain('queue_jobs');
      expect(trigger.metadata.threshold).toBe('1');
      // The lanes a run is split into are what the queue shows: as many as the autoscaler may run.
      expect(Number(config(ms).SYNC_BACKFILL_LANES)).toBe(so.spec.maxReplicaCount);
      expect(so.spec.minReplicaCount).toBeGreaterThanOrEqual(1);
    },
  );

  it("Argo CD leaves the sync workers' replicas to the autoscaler", () => {
    const app = parse(fs.readFileSync(path.join(ROOT, 'deployment/argocd/application-prod.yaml'), 'utf8'));
    expect(app.spec.ignoreDifferences).toContainEqual({
      group: 'apps',
      kind: 'Deployment',
      name: 'lms-worker-sync',
      jsonPointers: ['/spec/replicas'],
    });
  });
});

describe('disruption budgets', () => {
  it.each(EVERY_RENDER)('%s: every API Deployment has a budget of its own, and no budget spans two Deployments', (dir) => {
    const ms = render(dir);
    const flaggerPrimary = ofKind(ms, 'Canary').length > 0;
    for (const pdb of ofKind(ms, 'PodDisruptionBudget')) {
      const selector = pdb.spec.selector.matchLabels as Record<string, string>;
      if (flaggerPrimary && selector.app === 'lms-api-primary') continue; // Flagger's primary: one Deployment
      const covered = ofKind(ms, 'Deployment').filter((d) => selects(selector, d.spec.template.metadata.labels));
      expect({ pdb: pdb.metadata.name, deployments: covered.length }).toEqual({ pdb: pdb.metadata.name, deployments: 1 });
    }
    for (const d of apiDeployments(ms)) {
      if (flaggerPrimary) continue;
      const budgets = ofKind(ms, 'PodDisruptionBudget').filter((p) =>
        selects(p.spec.selector.matchLabels, d.spec.template.metadata.labels),
      );
      expect({ deployment: d.metadata.name, budgets: budgets.length }).toEqual({ deployment: d.metadata.name, budgets: 1 });
    }
  });
});

describe('egress', () => {
  const isDns = (rule: any) => rule.to?.some((t: any) => t.podSelector?.matchLabels?.['k8s-app'] === 'kube-dns');
  const isIstiod = (rule: any) => rule.ports?.every((p: any) => p.port === 15012);
  const isInNamespace = (rule: any) => rule.to?.every((t: any) => t.podSelector && !t.namespaceSelector && !t.ipBlock);

  it.each(OVERLAYS)(
    "%s: beyond DNS, istiod and the namespace's own pods, egress goes only to the CIDRs the overlay gives, never 0.0.0.0/0",
    (dir) => {
      const ms = render(dir);
      const env = parse(fs.readFileSync(path.join(K8S, dir, 'environment.yaml'), 'utf8')).data as Record<string, string>;
      const cidrs = new Set<string>();
      for (const np of ofKind(ms, 'NetworkPolicy')) {
        for (const rule of np.spec.egress ?? []) {
          if (isDns(rule) || isIstiod(rule) || isInNamespace(rule)) continue;
          expect({ policy: np.metadata.name, peers: rule.to?.length ?? 0 }).toEqual({
            policy: np.metadata.name,
            peers: expect.any(Number),
          });
          expect({ policy: np.metadata.name, open: !rule.to || rule.to.length === 0 }).toEqual({ policy: np.metadata.name, open: false });
          for (const t of rule.to) {
            expect({ policy: np.metadata.name, peer: Object.keys(t) }).toEqual({ policy: np.metadata.name, peer: ['ipBlock'] });
            expect(['0.0.0.0/0', '::/0']).not.toContain(t.ipBlock.cidr);
            cidrs.add(t.ipBlock.cidr);
          }
        }
      }
      expect([...cidrs].sort()).toEqual([env.EGRESS_STORES_CIDR, env.EGRESS_HTTPS_CIDR].sort());
      // The data stores and HTTPS are reachable (by port) in those CIDRs.
      const ports = ofKind(ms, 'NetworkPolicy').flatMap((np) =>
        (np.spec.egress ?? []).filter((r: any) => r.to?.some((t: any) => t.ipBlock)).flatMap((r: any) => r.ports.map((p: any) => p.port)),
      );
      expect(ports).toEqual(expect.arrayContaining([5432, 27017, 6379, 6380, 443]));
    },
  );
});

describe('/metrics is not reachable through the load balancer', () => {
  it.each(EVERY_RENDER)(
    '%s: the API serves /metrics on its own port (METRICS_PORT), which only the headless metrics Service names and only monitoring may reach',
    (dir) => {
      const ms = render(dir);
      const metricsPort = Number(config(ms).METRICS_PORT);
      expect(metricsPort).toBeGreaterThan(0);
      for (const d of apiDeployments(ms)) {
        const ports = d.spec.template.spec.containers[0].ports as Array<{ name: string; containerPort: number }>;
        expect(ports).toEqual(
          expect.arrayContaining([
            { name: 'http', containerPort: 3000 },
            { name: 'metrics', containerPort: metricsPort },
          ]),
        );
        expect(d.spec.template.metadata.annotations?.['traffic.sidecar.istio.io/excludeInboundPorts']).toBe(String(metricsPort));
      }
      for (const s of ofKind(ms, 'Service')) {
        expect(['ClusterIP', undefined]).toContain(s.spec.type);
        const exposesMetrics = (s.spec.ports as Array<{ targetPort: string | number }>).some(
          (p) => p.targetPort === 'metrics' || p.targetPort === metricsPort,
        );
        if (exposesMetrics)
          expect({ service: s.metadata.name, clusterIP: s.spec.clusterIP, scraped: s.metadata.labels?.['monitoring.lms/scrape'] }).toEqual({
            service: s.metadata.name,
            clusterIP: 'None',
            scraped: 'true',
          });
      }
      expect(find(ms, 'Service', 'lms-api-metrics').spec.ports).toEqual([{ name: 'metrics', port: metricsPort, targetPort: 'metrics' }]);
      expect(find(ms, 'ServiceMonitor', 'lms').spec.endpoints.map((e: { port: string }) => e.port)).toEqual(['metrics']);
      // Ingress to the metrics port only from a namespace selector; the open rule names `http` alone.
      for (const rule of find(ms, 'NetworkPolicy', 'lms-api-ingress').spec.ingress) {
        const ports = rule.ports.map((p: { port: string }) => p.port);
        if (!rule.from) expect(ports).toEqual(['http']);
        if (ports.includes('metrics'))
          expect(rule.from).toEqual([{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': expect.any(String) } } }]);
      }
      for (const c of ofKind(ms, 'Canary'))
        expect({ targetPort: c.spec.service.targetPort, portDiscovery: c.spec.service.portDiscovery ?? false }).toEqual({
          targetPort: 'http',
          portDiscovery: false,
        });
    },
  );

  describe('the smoke tests against the public address (--public)', () => {
    let api: FakeApi;
    const env = () => ({ APP_TOKEN: 'app-token-0123456789abc', OPERATOR_TOKEN: 'operator-token-0123456789' });
    beforeAll(async () => {
      api = await startFakeApi(env().APP_TOKEN, env().OPERATOR_TOKEN);
    });
    afterAll(() => api.close());

    it('pass when /metrics answers 404 there', async () => {
      api.options.metrics = 404;
      const r = await runScriptAsync('scripts/smoke-tests.sh', [api.url, '--public'], env());
      expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
      expect(r.stdout).toContain('GET /metrics on the public address is 404');
    });

    it('fail when the load balancer serves /metrics', async () => {
      api.options.metrics = 200;
      const r = await runScriptAsync('scripts/smoke-tests.sh', [api.url, '--public'], env());
      expect(r.status).toBe(1);
      expect(r.stderr).toContain('GET /metrics on the public address');
    });

    it('check the series on METRICS_URL when given', async () => {
      api.options.metrics = 200;
      const r = await runScriptAsync('scripts/smoke-tests.sh', [api.url], { ...env(), METRICS_URL: `${api.url}/metrics` });
      expect(r.status).toBe(0);
      expect(r.stdout).toContain('GET /metrics: HTTP, process, sync, shadow and traffic series present');
    });
  });
});
