/**
 * Issue 20, point 2: the canary meets real users. Flagger's routes bind to a Gateway for the public host
 * (the Route 53 record's), not to the mesh only; the load test writes and reads with an application token
 * from a Secret (run here against a stand-in API); the success metric counts 401/403/429 as failures; and
 * staging runs the same Flagger path as production. (The manual Istio canary's sizing: deploy-scripts.)
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { find, K8S, Manifest, ofKind, render, runScriptAsync, tool } from './support/deployment';
import { FakeApi, startFakeApi } from './support/fake-api';

const OVERLAYS = ['overlays/prod', 'overlays/staging'];
const LOADTEST = 'deployment/kubernetes/strategies/flagger-canary/loadtest.sh';
const configValue = (ms: Manifest[], key: string) =>
  ofKind(ms, 'ConfigMap').find((c) => c.metadata.name.startsWith('lms-config-'))!.data![key];

beforeAll(() => {
  tool('kustomize');
});

describe('north-south traffic reaches the canary', () => {
  it.each(OVERLAYS)('%s: the Canary binds a Gateway for the public host (the Route 53 record) and the mesh', (dir) => {
    const ms = render(dir);
    const canary = find(ms, 'Canary', 'lms-api');
    const host = configValue(ms, 'ROUTE53_RECORD_NAME');
    expect(canary.spec.service.hosts).toContain(host);
    expect(canary.spec.service.gateways).toContain('mesh');
    const gateways = (canary.spec.service.gateways as string[]).filter((g) => g !== 'mesh');
    expect(gateways.length).toBeGreaterThanOrEqual(1);
    for (const name of gateways) {
      const gateway = find(ms, 'Gateway', name.split('/').pop()!);
      expect(gateway.spec.selector).toEqual({ istio: 'ingressgateway' });
      expect((gateway.spec.servers as Array<{ hosts: string[] }>).flatMap((s) => s.hosts)).toContain(host);
    }
  });
});

describe('the load test', () => {
  it.each(OVERLAYS)(
    '%s: a load tester in the namespace holds an application token from the Secret and runs the script for the acceptance test and every step',
    (dir) => {
      const ms = render(dir);
      const namespace = find(ms, 'Canary', 'lms-api').metadata.namespace;
      const tester = find(ms, 'Deployment', 'lms-loadtester');
      const [container] = tester.spec.template.spec.containers;
      expect(container.env).toContainEqual({
        name: 'LMS_LOADTEST_TOKEN',
        valueFrom: { secretKeyRef: { name: 'lms-secrets', key: 'LOADTEST_API_TOKEN' } },
      });
      const service = find(ms, 'Service', 'lms-loadtester');
      const webhooks = find(ms, 'Canary', 'lms-api').spec.analysis.webhooks as Array<{
        name: string;
        type: string;
        url: string;
        metadata?: Record<string, string>;
      }>;
      for (const w of webhooks) expect(w.url).toMatch(new RegExp(`^http://${service.metadata.name}\\.${namespace}\\.svc(:\\d+)?/`));
      expect(webhooks.find((w) => w.type === 'pre-rollout')?.metadata).toEqual({
        type: 'bash',
        cmd: 'bash /etc/lms-loadtest/loadtest.sh once',
      });
      expect(webhooks.find((w) => w.type === 'rollout')?.metadata).toEqual({
        type: 'cmd',
        cmd: expect.stringMatching(/^bash \/etc\/lms-loadtest\/loadtest\.sh run \d+$/),
      });
      // The script the pod runs is the one in the repository.
      const mount = container.volumeMounts.find((v: { mountPath: string }) => v.mountPath === '/etc/lms-loadtest');
      const volume = tester.spec.template.spec.volumes.find((v: { name: string }) => v.name === mount.name);
      const script = find(ms, 'ConfigMap', volume.configMap.name);
      expect(script.data!['loadtest.sh']).toBe(fs.readFileSync(path.join(K8S, 'strategies/flagger-canary/loadtest.sh'), 'utf8'));
    },
  );

  describe('loadtest.sh against a stand-in API', () => {
    const TOKEN = 'loadtest-token-0123456789';
    let api: FakeApi;
    beforeAll(async () => {
      api = await startFakeApi(TOKEN, 'operator-token-0123456789');
    });
    afterAll(() => api.close());
    beforeEach(() => {
      api.requests.length = 0;
      api.options.refuseApp = false;
    });

    it('once: creates, appends, reads, lists and deletes, with the token, and passes', async () => {
      const r = await runScriptAsync(LOADTEST, ['once'], { LMS_LOADTEST_TOKEN: TOKEN, TARGET: api.url });
      expect(r.status).toBe(0);
      expect(api.requests.map((q) => `${q.method} ${q.path.replace(/[0-9a-f]{24}/, ':id')}`)).toEqual([
        'POST /conversations',
        'POST /conversations/:id/messages',
        'GET /conversations/:id',
        'GET /conversations?userId=flagger-loadtest',
        'DELETE /conversations/:id',
      ]);
      expect(new Set(api.requests.map((q) => q.token))).toEqual(new Set([TOKEN]));
      expect(r.stdout + r.stderr).not.toContain(TOKEN);
    });

    it('once: a refused token fails the acceptance test at once', async () => {
      api.options.refuseApp = true;
      const r = await runScriptAsync(LOADTEST, ['once'], { LMS_LOADTEST_TOKEN: TOKEN, TARGET: api.url });
      expect(r.status).toBe(1);
      expect(r.stderr).toContain('create: expected HTTP 201, got 401');
      expect(api.requests).toHaveLength(1);
    });

    it('refuses to run without a token', async () => {
      const r = await runScriptAsync(LOADTEST, ['once'], { TARGET: api.url });
      expect(r.status).toBe(1);
      expect(r.stderr).toContain('LMS_LOADTEST_TOKEN is not set');
      expect(api.requests).toHaveLength(0);
    });

    it('run: keeps writing and reading for the given time, several rounds at once', async () => {
      const r = await runScriptAsync(LOADTEST, ['run', '2'], { LMS_LOADTEST_TOKEN: TOKEN, TARGET: api.url, CONCURRENCY: '2', PAUSE: '0' });
      expect(r.status).toBe(0);
      const creates = api.requests.filter((q) => q.method === 'POST' && q.path === '/conversations').length;
      expect(creates).toBeGreaterThanOrEqual(4);
      expect(api.requests.filter((q) => q.method === 'DELETE').length).toBe(creates);
      expect(r.stdout).toMatch(/rounds against .*, 0 with an unexpected answer/);
    });
  });
});

describe('the analysis', () => {
  /** The `status!~"..."` matcher of the success query's numerator, as a RegExp (PromQL anchors it). */
  const successExclusion = (query: string) => {
    const m = /status!~"([^"]+)"/.exec(query);
    if (!m) throw new Error(`no status!~ matcher in ${query}`);
    return new RegExp(`^(?:${m[1]})$`);
  };

  it.each(OVERLAYS)("%s: the success rate counts 5xx and the load tester's refusals (401, 403, 429) as failures", (dir) => {
    const excluded = successExclusion(find(render(dir), 'MetricTemplate', 'lms-request-success-rate').spec.query);
    for (const status of ['500', '502', '503', '401', '403', '429'])
      expect({ status, failure: excluded.test(status) }).toEqual({ status, failure: true });
    for (const status of ['200', '201', '204', '404', '409', '422'])
      expect({ status, failure: excluded.test(status) }).toEqual({ status, failure: false });
  });

  it('staging runs the same Flagger analysis as production, so production is not its first run', () => {
    const strip = (ms: Manifest[]) => {
      const canary = find(ms, 'Canary', 'lms-api');
      return {
        analysis: JSON.parse(JSON.stringify(canary.spec.analysis).replace(/legacy-migration(-staging)?\.svc/g, 'NS.svc')),
        templates: ofKind(ms, 'MetricTemplate').map((t) => ({ name: t.metadata.name, query: t.spec.query })),
        target: canary.spec.targetRef,
      };
    };
    expect(strip(render('overlays/staging'))).toEqual(strip(render('overlays/prod')));
  });
});
