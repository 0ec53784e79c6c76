/**
 * The Kubernetes manifests as kustomize renders them (deployment/kubernetes), checked against the seed's
 * numbers and against the code: the queues of src/queues/queue-names.ts, the variables the config reader
 * reads, the metric names the code registers. The schemas themselves are scripts/ci/validate-deploy.sh's
 * job; here the tools come from .tools/bin (npm test installs them).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse } from 'yaml';
import { inspectConfig } from '../src/app-config';
import { MetricsService } from '../src/common/metrics/metrics.service';
import { ALL_QUEUES, resolveQueues } from '../src/queues/queue-names';
import { ROOT } from './support/env';
import { find, K8S, Manifest, ofKind, ourWorkloads, render, tool } from './support/deployment';

const OVERLAYS = ['overlays/prod', 'overlays/staging'];
const STRATEGIES = [
  'strategies/rolling',
  'strategies/recreate',
  'strategies/blue-green',
  'strategies/istio-canary',
  'strategies/flagger-canary',
];
const EVERY_RENDER = [...OVERLAYS, ...STRATEGIES];

type Container = {
  name: string;
  image: string;
  command?: string[];
  env?: Array<{ name: string; value?: string; valueFrom?: any }>;
  envFrom?: any[];
  ports?: any[];
  readinessProbe?: any;
  livenessProbe?: any;
  startupProbe?: any;
  resources?: any;
  securityContext?: any;
};
const podSpec = (m: Manifest) => m.spec.template.spec as { containers: Container[]; securityContext?: any };
const containers = (m: Manifest) => podSpec(m).containers;
const envValue = (c: Container, name: string) => c.env?.find((e) => e.name === name)?.value;
/** The workloads of this service's image (the load tester under Flagger runs Flagger's own). */
const workloads = ourWorkloads;
const lmsConfig = (ms: Manifest[]) =>
  find(ms, 'ConfigMap', ofKind(ms, 'ConfigMap').find((c) => c.metadata.name.startsWith('lms-config-'))!.metadata.name);
/** The namespace of the namespaced objects (a Namespace object has none). */
const namespaceOf = (ms: Manifest[]) => ms.find((m) => m.metadata.namespace)!.metadata.namespace;
const workers = (ms: Manifest[]) => ofKind(ms, 'Deployment').filter((d) => d.metadata.labels?.['app.kubernetes.io/component'] === 'worker');
const selects = (selector: Record<string, string>, labels: Record<string, string>) =>
  Object.entries(selector).every(([k, v]) => labels[k] === v);

beforeAll(() => {
  // A missing tool is an error with the command that installs it, never a skipped test.
  tool('kustomize');
});

describe('every overlay and strategy', () => {
  it.each(EVERY_RENDER)('%s renders the API, the three worker groups, the migration Job and the monitoring objects', (dir) => {
    const ms = render(dir);
    expect(
      workers(ms)
        .map((d) => d.metadata.name)
        .sort(),
    ).toEqual(['lms-worker-control', 'lms-worker-realtime', 'lms-worker-sync']);
    expect(
      ofKind(ms, 'Deployment').filter((d) => d.metadata.labels?.['app.kubernetes.io/component'] === 'api').length,
    ).toBeGreaterThanOrEqual(1);
    for (const kind of [
      'ConfigMap',
      'ServiceAccount',
      'Job',
      'ServiceMonitor',
      'PrometheusRule',
      'PodDisruptionBudget',
      'NetworkPolicy',
      'ExternalSecret',
    ])
      expect(ofKind(ms, kind).length).toBeGreaterThanOrEqual(1);
    const namespaces = new Set(ms.filter((m) => m.kind !== 'Namespace').map((m) => m.metadata.namespace));
    expect(namespaces.size).toBe(1);
  });

  it.each(EVERY_RENDER)('%s: every queue is served by exactly one worker group', (dir) => {
    const ms = render(dir);
    const served = workers(ms).flatMap((d) => {
      const queues = envValue(containers(d)[0], 'WORKER_QUEUES');
      expect(queues).toBeDefined(); // no group may default to "every queue"
      return resolveQueues(queues!.split(',').map((q) => q.trim()));
    });
    expect([...served].sort()).toEqual([...ALL_QUEUES].sort());
    for (const d of ofKind(ms, 'Deployment').filter((x) => !workers(ms).includes(x)))
      expect(envValue(containers(d)[0], 'WORKER_QUEUES')).toBeUndefined();
  });

  it.each(EVERY_RENDER)('%s: pods run as non-root on a read-only root, with resources and health probes', (dir) => {
    for (const w of workloads(render(dir))) {
      expect(podSpec(w).securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: 'RuntimeDefault' } });
      for (const c of containers(w)) {
        expect(c.securityContext).toMatchObject({
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
          capabilities: { drop: ['ALL'] },
        });
        expect(c.resources.requests).toEqual({ cpu: expect.any(String), memory: expect.any(String) });
        expect(c.resources.limits.memory).toEqual(expect.any(String));
        if (w.kind === 'Deployment') {
          expect(c.readinessProbe.httpGet.path).toBe('/health/ready');
          expect(c.livenessProbe.httpGet.path).toBe('/health/live');
          expect(c.startupProbe.httpGet.path).toBe('/health/live');
        }
      }
    }
  });

  it.each(EVERY_RENDER)('%s: workers answer their probes on the health listener the image HEALTHCHECK also asks', (dir) => {
    for (const d of workers(render(dir))) {
      const c = containers(d)[0];
      const port = c.ports!.find((p) => p.name === 'health');
      expect(envValue(c, 'WORKER_HEALTH_PORT')).toBe(String(port.containerPort));
      for (const probe of [c.readinessProbe, c.livenessProbe, c.startupProbe]) expect(probe.httpGet.port).toBe('health');
      expect(c.command).toEqual(['node', '--max-old-space-size=256', '--max-semi-space-size=8', 'dist/workers/worker.js']);
    }
  });

  it.each(EVERY_RENDER)('%s: every Service and disruption budget selects pods that exist', (dir) => {
    const ms = render(dir);
    const pods = ofKind(ms, 'Deployment').map((d) => d.spec.template.metadata.labels as Record<string, string>);
    for (const s of ofKind(ms, 'Service')) expect(pods.some((labels) => selects(s.spec.selector, labels))).toBe(true);
    const flagger = ofKind(ms, 'Canary').length > 0;
    for (const pdb of ofKind(ms, 'PodDisruptionBudget')) {
      const selector = pdb.spec.selector.matchLabels as Record<string, string>;
      // Under Flagger the API's budget follows the primary pods Flagger creates (app: lms-api-primary).
      if (flagger && selector.app === 'lms-api-primary') continue;
      expect(pods.some((labels) => selects(selector, labels))).toBe(true);
    }
  });
});

describe('configuration', () => {
  const SECRET_VALUES: Record<string, string> = {
    DATABASE_URL: 'postgres://lms:secret@postgres.example.internal:5432/lms',
    LEGACY_MONGO_URL: 'mongodb://legacy.example.internal:27017/legacy',
    REDIS_URL: 'rediss://redis.example.internal:6380',
    APP_API_TOKENS: 'billing:0123456789abcdef-app',
    OPERATOR_API_TOKENS: 'ops:0123456789abcdef-operator',
    SHADOW_LEGACY_API_TOKEN: '0123456789abcdef-legacy',
  };

  /** A container's environment as Kubernetes would give it: the ConfigMap, the secrets, its own variables. */
  function environment(ms: Manifest[], c: Container): { env: Record<string, string>; names: string[] } {
    const env: Record<string, string> = {};
    const names: string[] = [];
    for (const from of c.envFrom ?? []) {
      const cm = find(ms, 'ConfigMap', from.configMapRef.name);
      Object.assign(env, cm.data);
      names.push(...Object.keys(cm.data ?? {}));
    }
    for (const e of c.env ?? []) {
      names.push(e.name);
      if (e.valueFrom?.secretKeyRef) {
        expect(e.valueFrom.secretKeyRef.name).toBe('lms-secrets');
        expect(Object.keys(SECRET_VALUES)).toContain(e.valueFrom.secretKeyRef.key);
        env[e.name] = SECRET_VALUES[e.valueFrom.secretKeyRef.key];
      } else {
        env[e.name] = e.value!;
      }
    }
    return { env, names };
  }

  it.each(EVERY_RENDER)('%s: every variable given to a process is one the config reader reads, and the result is valid', (dir) => {
    const ms = render(dir);
    for (const d of workloads(ms).filter((w) => w.kind === 'Deployment')) {
      for (const c of containers(d)) {
        const { env, names } = environment(ms, c);
        const { problems, variablesRead } = inspectConfig(env);
        expect({ deployment: d.metadata.name, problems }).toEqual({ deployment: d.metadata.name, problems: [] });
        const unread = names.filter((n) => !variablesRead.includes(n));
        expect({ deployment: d.metadata.name, unread }).toEqual({ deployment: d.metadata.name, unread: [] });
      }
    }
    // The migration Job reads DATABASE_URL only (workers/migrate.ts); it must still be a variable the service knows.
    const job = find(ms, 'Job', 'lms-migrate');
    expect(containers(job)[0].env!.map((e) => e.name)).toEqual(['DATABASE_URL']);
  });

  it.each(EVERY_RENDER)('%s: the ConfigMap holds no secret and every container uses it', (dir) => {
    const ms = render(dir);
    const cm = lmsConfig(ms);
    expect(cm.metadata.name).toMatch(/^lms-config-[a-z0-9]{10}$/); // a content hash: a change rolls the pods
    for (const key of Object.keys(SECRET_VALUES)) expect(cm.data).not.toHaveProperty(key);
    expect(Object.keys(cm.data!).filter((k) => /TOKEN|SECRET|PASSWORD|AWS_ACCESS_KEY/.test(k))).toEqual([]);
    for (const d of workloads(ms).filter((w) => w.kind === 'Deployment'))
      expect(containers(d)[0].envFrom).toEqual([{ configMapRef: { name: cm.metadata.name } }]);
  });

  it('production serves no OpenAPI document, switches Route 53 and archives to S3 with the pods role', () => {
    const ms = render('overlays/prod');
    const cm = lmsConfig(ms);
    expect(cm.data).toMatchObject({ API_DOCS: 'off', TRAFFIC_PROVIDER: 'route53', GATE_PROFILE: 'seed', MIGRATIONS_RUN_ON_START: 'false' });
    expect(cm.data!.ARCHIVE_S3_BUCKET).toBeDefined();
    expect(find(ms, 'ServiceAccount', 'lms').metadata.annotations!['eks.amazonaws.com/role-arn']).toMatch(/^arn:aws:iam::\d{12}:role\//);
  });
});

describe("the seed's numbers", () => {
  it('rolling update: three API replicas, one pod above the count, none below, for every Deployment', () => {
    const ms = render('overlays/prod');
    expect(find(ms, 'Deployment', 'lms-api').spec.replicas).toBe(3);
    expect(find(ms, 'HorizontalPodAutoscaler', 'lms-api').spec.minReplicas).toBe(3);
    for (const dir of ['overlays/prod', 'overlays/staging', 'strategies/rolling']) {
      for (const d of ofKind(render(dir), 'Deployment'))
        expect(d.spec.strategy).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } });
    }
  });

  it('recreate: every Deployment stops its old pods first', () => {
    for (const d of ofKind(render('strategies/recreate'), 'Deployment')) expect(d.spec.strategy).toEqual({ type: 'Recreate' });
  });

  it('blue-green: two Deployments of three replicas, the Service on blue', () => {
    const ms = render('strategies/blue-green');
    const blue = find(ms, 'Deployment', 'lms-api-blue');
    const green = find(ms, 'Deployment', 'lms-api-green');
    expect([blue.spec.replicas, green.spec.replicas]).toEqual([3, 3]);
    const service = find(ms, 'Service', 'lms-api');
    expect(service.spec.selector).toEqual({ app: 'lms-api', version: 'blue' });
    expect(selects(service.spec.selector, blue.spec.template.metadata.labels)).toBe(true);
    expect(selects(service.spec.selector, green.spec.template.metadata.labels)).toBe(false);
    expect(blue.spec.selector.matchLabels).toEqual({ app: 'lms-api', version: 'blue' });
    expect(ofKind(ms, 'HorizontalPodAutoscaler')).toEqual([]);
  });

  it('Istio canary: the header route to the canary first, then 95/5; subsets match the Deployments', () => {
    const ms = render('strategies/istio-canary');
    const vs = find(ms, 'VirtualService', 'lms-api');
    expect(vs.spec.http[0]).toEqual({
      name: 'canary-header',
      match: [{ headers: { canary: { exact: 'true' } } }],
      route: [{ destination: { host: 'lms-api', subset: 'canary' } }],
    });
    expect(vs.spec.http[1].route).toEqual([
      { destination: { host: 'lms-api', subset: 'stable' }, weight: 95 },
      { destination: { host: 'lms-api', subset: 'canary' }, weight: 5 },
    ]);
    const dr = find(ms, 'DestinationRule', 'lms-api');
    for (const subset of dr.spec.subsets as Array<{ name: string; labels: Record<string, string> }>) {
      const d = find(ms, 'Deployment', `lms-api-${subset.name}`);
      expect(selects(subset.labels, d.spec.template.metadata.labels)).toBe(true);
    }
    expect(find(ms, 'HorizontalPodAutoscaler', 'lms-api').spec.scaleTargetRef.name).toBe('lms-api-stable');
  });

  it('Flagger: interval 1m, threshold 5, maxWeight 50, stepWeight 5, success >= 99 %, p99 <= 500 ms, the webhooks under analysis', () => {
    const ms = render('overlays/prod');
    const canary = find(ms, 'Canary', 'lms-api');
    expect(canary.spec.targetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: 'lms-api' });
    const { interval, threshold, maxWeight, stepWeight, metrics, webhooks } = canary.spec.analysis;
    expect({ interval, threshold, maxWeight, stepWeight }).toEqual({ interval: '1m', threshold: 5, maxWeight: 50, stepWeight: 5 });
    expect(metrics).toEqual([
      { name: 'request-success-rate', templateRef: { name: 'lms-request-success-rate' }, thresholdRange: { min: 99 }, interval: '1m' },
      { name: 'request-duration', templateRef: { name: 'lms-request-duration' }, thresholdRange: { max: 500 }, interval: '1m' },
    ]);
    // The seed's `hey` against one read URL (which had no token: every request a 401) is now the service's own
    // load test with an application token: an acceptance round first, load at every step, a stop switch.
    expect(webhooks.map((w: { name: string; type: string }) => `${w.type}:${w.name}`)).toEqual([
      'pre-rollout:acceptance-test',
      'rollout:load-test',
      'rollback:stop-switch',
    ]);
    expect(canary.spec).not.toHaveProperty('webhooks');
    for (const m of metrics) find(ms, 'MetricTemplate', m.templateRef.name);
    // Flagger owns the Service and the primary; the manifests must not fight it.
    expect(ofKind(ms, 'Service').map((s) => s.metadata.name)).not.toContain('lms-api');
    expect(find(ms, 'PodDisruptionBudget', 'lms-api').spec.selector.matchLabels).toEqual({ app: 'lms-api-primary' });
    expect(find(ms, 'Deployment', 'lms-api').spec.selector.matchLabels).toEqual({ app: 'lms-api' });
  });

  it('Argo CD: the prod overlay, automated prune and selfHeal, CreateNamespace, five retries backing off 5 s x2 up to 3 min', () => {
    const app = parse(fs.readFileSync(path.join(ROOT, 'deployment/argocd/application-prod.yaml'), 'utf8'));
    expect(app.spec.source.path).toBe('deployment/kubernetes/overlays/prod');
    expect(fs.existsSync(path.join(ROOT, app.spec.source.path, 'kustomization.yaml'))).toBe(true);
    expect(app.spec.syncPolicy.automated).toEqual({ prune: true, selfHeal: true });
    expect(app.spec.syncPolicy.syncOptions).toContain('CreateNamespace=true');
    expect(app.spec.syncPolicy.retry).toEqual({ limit: 5, backoff: { duration: '5s', factor: 2, maxDuration: '3m' } });
    expect(app.spec).not.toHaveProperty('healthChecks');
    expect(app.spec.destination.namespace).toBe(namespaceOf(render('overlays/prod')));
    expect(app.spec.ignoreDifferences).toContainEqual({
      group: 'apps',
      kind: 'Deployment',
      name: 'lms-api',
      jsonPointers: ['/spec/replicas'],
    });
  });

  it('the migration Job is an Argo CD PreSync hook running the locked migrations', () => {
    const job = find(render('overlays/prod'), 'Job', 'lms-migrate');
    expect(job.metadata.annotations).toMatchObject({
      'argocd.argoproj.io/hook': 'PreSync',
      'argocd.argoproj.io/hook-delete-policy': 'BeforeHookCreation',
    });
    expect(containers(job)[0].command).toEqual(['node', 'dist/workers/migrate.js', 'run']);
    expect(job.spec.template.metadata.annotations['sidecar.istio.io/inject']).toBe('false');
  });
});

describe('alerts and analysis on the metrics the code registers', () => {
  /** Every metric name the code registers: the registry's own, and the names passed where metrics are made. */
  function registeredNames(): Set<string> {
    const names = new Set(new MetricsService().registry.getMetricsAsArray().map((m) => (m as unknown as { name: string }).name));
    const files: string[] = [];
    const walk = (dir: string) => {
      for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
        const p = path.join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else if (p.endsWith('.ts') && !p.endsWith('.spec.ts')) files.push(p);
      }
    };
    walk(path.join(ROOT, 'src'));
    for (const file of files) {
      const text = fs.readFileSync(file, 'utf8');
      if (!/prom-client|registerScrapeGauges|metrics\.(counter|gauge|histogram)\(/.test(text)) continue;
      for (const m of text.matchAll(/metrics\.(?:counter|gauge|histogram)\(\s*'([a-z_:][a-z0-9_:]*)'/g)) names.add(m[1]);
      for (const m of text.matchAll(/\bname:\s*'([a-z_:][a-z0-9_:]*)'/g)) names.add(m[1]);
    }
    return names;
  }

  const known = registeredNames();
  const isKnown = (series: string) => series === 'up' || known.has(series) || known.has(series.replace(/_(bucket|count|sum)$/, ''));
  /** Metric names in a PromQL expression: identifiers directly before a `{` selector. */
  const seriesIn = (expr: string) => [...expr.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\{/g)].map((m) => m[1]);

  it('knows the metrics the alerts need (a sanity check of the name collection)', () => {
    for (const name of [
      'http_request_duration_seconds',
      'repairs_total',
      'repair_outbox_oldest_age_seconds',
      'sync_dead_letters_open',
      'sync_catchup_lag_seconds',
      'shadow_window_mismatch_ratio',
      'shadow_window_comparisons',
      'traffic_change_oldest_open_age_seconds',
      'process_cpu_user_seconds_total',
    ]) {
      expect(known).toContain(name);
    }
  });

  it('every series in the PrometheusRule and the MetricTemplates exists in the code', () => {
    const ms = render('overlays/prod');
    const exprs = [
      ...find(ms, 'PrometheusRule', 'lms').spec.groups.flatMap((g: any) => g.rules.map((r: any) => r.expr as string)),
      ...ofKind(ms, 'MetricTemplate').map((t) => t.spec.query as string),
    ];
    const series = exprs.flatMap(seriesIn);
    expect(series.length).toBeGreaterThan(10);
    expect(series.filter((s) => !isKnown(s))).toEqual([]);
  });

  it('alerts at the thresholds: error rate 1 %, p99 500 ms, shadow mismatch 0.1 %, dead letters, a traffic change stuck', () => {
    const rules = Object.fromEntries(
      find(render('overlays/prod'), 'PrometheusRule', 'lms').spec.groups.flatMap((g: any) =>
        g.rules.map((r: any) => [r.alert, r.expr.replace(/\s+/g, ' ').trim()]),
      ),
    ) as Record<string, string>;
    expect(rules.LmsHighErrorRate).toMatch(/status=~"5\.\."[\s\S]*> 0\.01$/);
    expect(rules.LmsHighLatencyP99).toMatch(/histogram_quantile\(0\.99,[\s\S]*http_request_duration_seconds_bucket[\s\S]*> 0\.5$/);
    expect(rules.LmsShadowMismatchHigh).toMatch(/shadow_window_mismatch_ratio[^>]*> 0\.001/);
    expect(rules.LmsSyncDeadLetters).toMatch(/sync_dead_letters_open[^>]*> 0$/);
    expect(rules.LmsRepairsDeadLettered).toMatch(/repairs_total\{[^}]*outcome="dead"/);
    expect(rules.LmsTrafficChangeStuck).toMatch(/traffic_change_oldest_open_age_seconds[^>]*> 900$/);
    expect(rules.LmsRedisLostData).toMatch(/increase\(redis_data_loss_total\{[^}]*\}\[15m\]\)\) > 0$/);
    // The rollback gate's threshold (GATE_MAX_FOLLOW_UP_LAG_MS, 60 s): alerting past it says the rollback would be refused.
    expect(rules.LmsFollowUpsLagging).toMatch(/repair_outbox_oldest_age_seconds\{[^}]*\}\) > 60$/);
  });

  it('Flagger counts only the canary pods application requests', () => {
    for (const t of ofKind(render('overlays/prod'), 'MetricTemplate')) {
      const query = t.spec.query as string;
      const selectors = query.split('http_request_duration_seconds_').slice(1);
      expect(selectors.length).toBeGreaterThanOrEqual(1);
      for (const s of selectors) {
        const selector = s.slice(0, s.indexOf('}[{{ interval }}]'));
        expect(selector).toContain('namespace="{{ namespace }}"');
        expect(selector).toContain('pod=~"{{ target }}-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)"');
        expect(selector).toContain('route=~"/conversations.*"');
      }
    }
  });

  it('the smoke tests and the error-rate check look for series that exist', () => {
    const smoke = fs.readFileSync(path.join(ROOT, 'scripts/smoke-tests.sh'), 'utf8');
    const listed = [...smoke.matchAll(/'([a-z_:][a-z0-9_:]*)(?:\{[^']*)?'/g)].map((m) => m[1]).filter((n) => n.includes('_'));
    expect(listed.length).toBeGreaterThanOrEqual(5);
    expect(listed.filter((s) => !isKnown(s))).toEqual([]);
  });
});

describe('environments', () => {
  it('staging: its own namespace, a smaller footprint, the release image from the registry', () => {
    const ms = render('overlays/staging');
    expect(namespaceOf(ms)).toBe('legacy-migration-staging');
    expect(find(ms, 'Deployment', 'lms-api').spec.replicas).toBe(2);
    expect(find(ms, 'HorizontalPodAutoscaler', 'lms-api').spec.minReplicas).toBe(2);
    expect(find(ms, 'PodDisruptionBudget', 'lms-api').spec.minAvailable).toBe(1);
  });

  it.each(OVERLAYS)('%s: every container runs the registry image', (dir) => {
    for (const w of workloads(render(dir)))
      for (const c of containers(w))
        expect(c.image).toMatch(/^\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com\/legacy-migration-service:v\d+\.\d+\.\d+$/);
  });

  it('the strategies and overlays all live where the README and the Argo CD Application say', () => {
    for (const dir of [...EVERY_RENDER, 'base']) expect(fs.existsSync(path.join(K8S, dir, 'kustomization.yaml'))).toBe(true);
  });
});
