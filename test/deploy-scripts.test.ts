/**
 * The deploy scripts (scripts/deploy/) against the rendered manifests: each script's change, printed with
 * --print-patch and applied as kubectl would apply it, gives the intended selector or weights and still
 * passes kubeconform; the same scripts against a fake kubectl make the calls, in the order, a rollout
 * needs; the error-rate check against a fake Prometheus.
 */
import { createServer, IncomingMessage, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { applyPatches, fakeKubectl, find, Manifest, ofKind, parseManifests, printedPatches, render, runScript, runScriptAsync, tool, validate } from './support/deployment';

const BLUE_GREEN = 'scripts/deploy/blue-green.sh';
const CANARY = 'scripts/deploy/canary.sh';
const selects = (selector: Record<string, string>, labels: Record<string, string>) => Object.entries(selector).every(([k, v]) => labels[k] === v);
const podLabels = (ms: Manifest[], name: string) => find(ms, 'Deployment', name).spec.template.metadata.labels as Record<string, string>;

beforeAll(() => {
  tool('kustomize');
  tool('kubeconform');
});

describe('blue-green.sh', () => {
  const rendered = () => render('strategies/blue-green');

  it('switch: the Service moves from blue to green and remembers blue; rollback moves it back', () => {
    const before = rendered();
    const switched = applyPatches(before, printedPatches(BLUE_GREEN, ['switch', '--current', 'blue']));
    const service = find(switched, 'Service', 'lms-api');
    expect(service.spec.selector).toEqual({ app: 'lms-api', version: 'green' });
    expect(service.metadata.annotations).toEqual({ 'lms.example.com/previous-version': 'blue' });
    expect(selects(service.spec.selector, podLabels(switched, 'lms-api-green'))).toBe(true);
    expect(selects(service.spec.selector, podLabels(switched, 'lms-api-blue'))).toBe(false);
    // Nothing else changed, and the result is still a valid Service.
    expect(switched.filter((m) => m.kind !== 'Service' || m.metadata.name !== 'lms-api')).toEqual(before.filter((m) => m.kind !== 'Service' || m.metadata.name !== 'lms-api'));
    expect(validate([service])).toContain('Valid: 1');

    const back = applyPatches(switched, printedPatches(BLUE_GREEN, ['rollback', '--current', 'green', '--previous', 'blue']));
    expect(find(back, 'Service', 'lms-api').spec.selector).toEqual({ app: 'lms-api', version: 'blue' });
  });

  it('refuses an unknown colour, a rollback to the colour already serving, and print mode without --current', () => {
    expect(runScript(BLUE_GREEN, ['switch', '--print-patch', '--current', 'red'])).toMatchObject({ status: 1, stderr: expect.stringContaining("--current must be blue or green, got 'red'") });
    expect(runScript(BLUE_GREEN, ['rollback', '--print-patch', '--current', 'blue', '--previous', 'blue']).status).toBe(1);
    expect(runScript(BLUE_GREEN, ['switch', '--print-patch']).stderr).toContain('--print-patch needs --current');
    expect(runScript(BLUE_GREEN, ['sideways']).status).toBe(2);
  });

  it('against a cluster: waits for the idle colour (300 s, the seed\'s), then patches the Service as printed', () => {
    const kubectl = fakeKubectl();
    try {
      const r = runScript(BLUE_GREEN, ['switch'], { ...kubectl.env, FAKE_SERVICE_VERSION: 'blue' });
      expect(r.status).toBe(0);
      const calls = kubectl.calls().map((c) => c.join(' '));
      expect(calls).toEqual([
        '-n legacy-migration get service lms-api -o jsonpath={.spec.selector.version}',
        '-n legacy-migration rollout status deployment/lms-api-green --timeout=300s',
        '-n legacy-migration wait --for=condition=ready pod -l app=lms-api,version=green --timeout=300s',
        `-n legacy-migration patch service lms-api --type merge -p ${JSON.stringify(printedPatches(BLUE_GREEN, ['switch', '--current', 'blue'])[0].patch)}`,
        '-n legacy-migration get endpoints lms-api -o wide',
      ]);
    } finally {
      kubectl.cleanup();
    }
  });

  it('against a cluster: rollback goes back to the colour in the Service annotation, without waiting', () => {
    const kubectl = fakeKubectl();
    try {
      expect(runScript(BLUE_GREEN, ['rollback'], { ...kubectl.env, FAKE_SERVICE_VERSION: 'green', FAKE_PREVIOUS_VERSION: 'blue' }).status).toBe(0);
      const patch = kubectl.calls().find((c) => c.includes('patch'))!;
      expect(JSON.parse(patch[patch.length - 1])).toEqual({ metadata: { annotations: { 'lms.example.com/previous-version': 'green' } }, spec: { selector: { version: 'blue' } } });
      expect(kubectl.calls().some((c) => c.includes('rollout') || c.includes('wait'))).toBe(false);
    } finally {
      kubectl.cleanup();
    }
  });
});

describe('canary.sh', () => {
  const rendered = () => render('strategies/istio-canary');
  const split = (ms: Manifest[]) => {
    const vs = find(ms, 'VirtualService', 'lms-api');
    return Object.fromEntries((vs.spec.http[1].route as Array<{ destination: { subset: string }; weight: number }>).map((r) => [r.destination.subset, r.weight]));
  };

  it.each([5, 25, 50, 100, 0])('weight %i: that share to the canary, the rest to stable, the header route kept first', (n) => {
    const before = rendered();
    const after = applyPatches(before, printedPatches(CANARY, ['weight', String(n)]));
    const vs = find(after, 'VirtualService', 'lms-api');
    expect(vs.spec.http[0]).toEqual(find(before, 'VirtualService', 'lms-api').spec.http[0]);
    expect(split(after)).toEqual({ stable: 100 - n, canary: n });
    expect(vs.spec.http).toHaveLength(2);
    expect(validate([vs])).toContain('Valid: 1');
  });

  it('refuses a weight outside 0..100 or not a whole number', () => {
    for (const bad of ['101', '-5', '5.5', 'half', '']) expect(runScript(CANARY, ['weight', bad, '--print-patch']).status).toBe(1);
  });

  it('promote: stable takes the canary\'s image (nothing else of its pod changes), all traffic back on stable, the canary at zero', () => {
    const before = rendered();
    const image = '123456789012.dkr.ecr.us-east-1.amazonaws.com/legacy-migration-service:v2.0.0';
    const patches = printedPatches(CANARY, ['promote', '--canary-image', image]);
    // The order matters: all traffic on the canary while stable rolls to the new image.
    expect(patches.map((p) => `${p.kind}/${p.name}`)).toEqual(['VirtualService/lms-api', 'Deployment/lms-api-stable', 'VirtualService/lms-api', 'Deployment/lms-api-canary']);
    expect(split(applyPatches(before, patches.slice(0, 1)))).toEqual({ stable: 0, canary: 100 });
    const after = applyPatches(before, patches);
    const stable = find(after, 'Deployment', 'lms-api-stable');
    const { image: _newImage, ...rest } = stable.spec.template.spec.containers[0];
    const { image: _oldImage, ...restBefore } = find(before, 'Deployment', 'lms-api-stable').spec.template.spec.containers[0];
    expect(stable.spec.template.spec.containers[0].image).toBe(image);
    expect(rest).toEqual(restBefore);
    expect(split(after)).toEqual({ stable: 100, canary: 0 });
    expect(find(after, 'Deployment', 'lms-api-canary').spec.replicas).toBe(0);
    expect(validate(after.filter((m) => ['VirtualService', 'Deployment'].includes(m.kind)))).toMatch(/Invalid: 0/);
  });

  it('rollback: all traffic to stable and the canary at zero', () => {
    const after = applyPatches(rendered(), printedPatches(CANARY, ['rollback']));
    expect(split(after)).toEqual({ stable: 100, canary: 0 });
    expect(find(after, 'Deployment', 'lms-api-canary').spec.replicas).toBe(0);
    expect(find(after, 'Deployment', 'lms-api-stable').spec.replicas).toBe(3);
  });

  it('against a cluster: promote reads the canary image and waits for stable\'s rollout before moving traffic back', () => {
    const kubectl = fakeKubectl();
    try {
      const image = 'registry.example.com/legacy-migration-service:v2.0.0';
      expect(runScript(CANARY, ['promote'], { ...kubectl.env, FAKE_CANARY_IMAGE: image }).status).toBe(0);
      const calls = kubectl.calls();
      expect(calls.map((c) => c.slice(2, 5).join(' '))).toEqual([
        'get deployment lms-api-canary',
        'patch virtualservice lms-api',
        'patch deployment lms-api-stable',
        'rollout status deployment/lms-api-stable',
        'patch virtualservice lms-api',
        'patch deployment lms-api-canary',
      ]);
      expect(calls[2]).toEqual(expect.arrayContaining(['--type', 'strategic']));
      expect(JSON.parse(calls[2][calls[2].length - 1])).toEqual({ spec: { template: { spec: { containers: [{ name: 'app', image }] } } } });
    } finally {
      kubectl.cleanup();
    }
  });
});

describe('apply-overlay.sh', () => {
  const IMAGE = '123456789012.dkr.ecr.us-east-1.amazonaws.com/legacy-migration-service:v9.8.7';

  it('renders the overlay with the release image in every container, leaving the overlay untouched', () => {
    const r = runScript('scripts/deploy/apply-overlay.sh', ['deployment/kubernetes/overlays/staging', IMAGE, '--print']);
    expect(r.stderr).toBe('');
    const ms = parseManifests(r.stdout);
    const images = ms.filter((m) => m.kind === 'Deployment' || m.kind === 'Job').flatMap((m) => m.spec.template.spec.containers.map((c: { image: string }) => c.image));
    expect(images.length).toBe(5);
    expect(new Set(images)).toEqual(new Set([IMAGE]));
    // The rest is the overlay as committed.
    const committed = render('overlays/staging');
    const withoutImages = (list: Manifest[]) => JSON.stringify(list).replace(/"image":"[^"]*"/g, '');
    expect(withoutImages(ms)).toBe(withoutImages(committed));
  });

  it('refuses a bad image reference or a folder without a kustomization', () => {
    expect(runScript('scripts/deploy/apply-overlay.sh', ['deployment/kubernetes/overlays/staging', 'not an image', '--print']).status).toBe(1);
    expect(runScript('scripts/deploy/apply-overlay.sh', ['deployment', IMAGE, '--print']).stderr).toContain('has no kustomization.yaml');
  });

  it('against a cluster: the migration Job first and alone, then everything, then every rollout', () => {
    const kubectl = fakeKubectl();
    try {
      const deployments = ofKind(render('overlays/staging'), 'Deployment').map((d) => d.metadata.name);
      const r = runScript('scripts/deploy/apply-overlay.sh', ['deployment/kubernetes/overlays/staging', IMAGE], { ...kubectl.env, FAKE_DEPLOYMENTS: deployments.join(' ') });
      expect(r.status).toBe(0);
      const calls = kubectl.calls().map((c) => c.filter((a) => !a.includes('/rendered.yaml')).join(' '));
      expect(calls).toEqual([
        '-n legacy-migration-staging delete job lms-migrate --ignore-not-found --wait=true',
        '-n legacy-migration-staging apply -f -l app.kubernetes.io/component=migration',
        '-n legacy-migration-staging get job lms-migrate -o jsonpath={.status.succeeded}',
        '-n legacy-migration-staging get job lms-migrate -o jsonpath={.status.conditions[?(@.type=="Failed")].status}',
        '-n legacy-migration-staging apply -f',
        '-n legacy-migration-staging get -f -o jsonpath={range .items[?(@.kind=="Deployment")]}{.metadata.name}{" "}{end}',
        ...deployments.map((d) => `-n legacy-migration-staging rollout status deployment/${d} --timeout=5m`),
      ]);
    } finally {
      kubectl.cleanup();
    }
  });

  it('against a cluster: a failed migration Job stops the rollout before anything else is applied', () => {
    const kubectl = fakeKubectl();
    try {
      const r = runScript('scripts/deploy/apply-overlay.sh', ['deployment/kubernetes/overlays/staging', IMAGE], { ...kubectl.env, FAKE_JOB_SUCCEEDED: '', FAKE_JOB_FAILED: 'True' });
      expect(r.status).toBe(1);
      expect(r.stderr).toContain('the migration job did not succeed; nothing else was changed');
      expect(kubectl.calls().filter((c) => c.includes('apply'))).toHaveLength(1);
    } finally {
      kubectl.cleanup();
    }
  });
});

describe('error-rate-check.sh', () => {
  let server: Server;
  let url: string;
  let answer: { status: number; body: unknown };
  let last: IncomingMessage | undefined;

  beforeAll(async () => {
    server = createServer((req, res) => {
      last = req;
      res.writeHead(answer.status, { 'Content-Type': 'application/json' }).end(JSON.stringify(answer.body));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  const vector = (value: string) => ({ status: 200, body: { status: 'success', data: { resultType: 'vector', result: [{ metric: {}, value: [1760000000, value] }] } } });
  const check = (env: Record<string, string> = {}) => runScriptAsync('scripts/deploy/error-rate-check.sh', [], { PROMETHEUS_URL: url, ...env });

  it('passes at or below 1 %, asking Prometheus about this service\'s application requests', async () => {
    answer = vector('0.004');
    const r = await check({ PROMETHEUS_TOKEN: 'prometheus-token-0001' });
    expect(r).toMatchObject({ status: 0, stdout: 'error-rate check: ok: 0.400 % of application requests failed with 5xx over the last 5m\n' });
    const query = new URL(last!.url!, url).searchParams.get('query')!;
    expect(query).toContain('http_request_duration_seconds_count{job="lms-api-metrics",namespace="legacy-migration",route=~"/conversations.*",status=~"5.."}[5m]');
    expect(last!.headers.authorization).toBe('Bearer prometheus-token-0001');
    expect(r.stdout + r.stderr).not.toContain('prometheus-token-0001');
    answer = vector('0.01');
    expect((await check()).status).toBe(0);
  });

  it('fails above 1 %, which is what makes the workflow undo the release', async () => {
    answer = vector('0.0523');
    const r = await check();
    expect(r.status).toBe(1);
    expect(r.stderr).toBe('error-rate check: FAILED: 5.230 % of application requests failed with 5xx over the last 5m (limit 1.000 %)\n');
  });

  it('has no figure (exit 3) without application requests, on a refused query or with Prometheus away', async () => {
    answer = { status: 200, body: { status: 'success', data: { resultType: 'vector', result: [] } } };
    expect(await check()).toMatchObject({ status: 3, stderr: expect.stringContaining('no application requests in namespace legacy-migration') });
    answer = vector('NaN');
    expect((await check()).status).toBe(3);
    answer = { status: 400, body: { status: 'error', errorType: 'bad_data', error: 'parse error' } };
    expect((await check()).status).toBe(3);
    expect((await runScriptAsync('scripts/deploy/error-rate-check.sh', [], { PROMETHEUS_URL: 'http://127.0.0.1:1' })).stderr).toContain('Prometheus did not answer');
  });
});
