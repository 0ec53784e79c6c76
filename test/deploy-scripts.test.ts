/**
 * The deploy scripts (scripts/deploy/) against the rendered manifests: each script's change, printed with
 * --print-patch and applied as kubectl would apply it, gives the intended selector or weights and still
 * passes kubeconform; the same scripts against a fake kubectl make the calls, in the order, a rollout
 * needs; the error-rate check against a fake Prometheus.
 */
import { createServer, IncomingMessage, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  applyPatches,
  fakeKubectl,
  find,
  Manifest,
  mergePatch,
  ofKind,
  ourWorkloads,
  parseManifests,
  printedPatches,
  render,
  runScript,
  runScriptAsync,
  strategicPatch,
  tool,
  validate,
} from './support/deployment';

const BLUE_GREEN = 'scripts/deploy/blue-green.sh';
const CANARY = 'scripts/deploy/canary.sh';
const selects = (selector: Record<string, string>, labels: Record<string, string>) =>
  Object.entries(selector).every(([k, v]) => labels[k] === v);
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
    expect(switched.filter((m) => m.kind !== 'Service' || m.metadata.name !== 'lms-api')).toEqual(
      before.filter((m) => m.kind !== 'Service' || m.metadata.name !== 'lms-api'),
    );
    expect(validate([service])).toContain('Valid: 1');

    const back = applyPatches(switched, printedPatches(BLUE_GREEN, ['rollback', '--current', 'green', '--previous', 'blue']));
    expect(find(back, 'Service', 'lms-api').spec.selector).toEqual({ app: 'lms-api', version: 'blue' });
  });

  it('refuses an unknown colour, a rollback to the colour already serving, and print mode without --current', () => {
    expect(runScript(BLUE_GREEN, ['switch', '--print-patch', '--current', 'red'])).toMatchObject({
      status: 1,
      stderr: expect.stringContaining("--current must be blue or green, got 'red'"),
    });
    expect(runScript(BLUE_GREEN, ['rollback', '--print-patch', '--current', 'blue', '--previous', 'blue']).status).toBe(1);
    expect(runScript(BLUE_GREEN, ['switch', '--print-patch']).stderr).toContain('--print-patch needs --current');
    expect(runScript(BLUE_GREEN, ['sideways']).status).toBe(2);
  });

  it("against a cluster: waits for the idle colour (300 s, the seed's), then patches the Service as printed", () => {
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
      expect(
        runScript(BLUE_GREEN, ['rollback'], { ...kubectl.env, FAKE_SERVICE_VERSION: 'green', FAKE_PREVIOUS_VERSION: 'blue' }).status,
      ).toBe(0);
      const patch = kubectl.calls().find((c) => c.includes('patch'))!;
      expect(JSON.parse(patch[patch.length - 1])).toEqual({
        metadata: { annotations: { 'lms.example.com/previous-version': 'green' } },
        spec: { selector: { version: 'blue' } },
      });
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
    return Object.fromEntries(
      (vs.spec.http[1].route as Array<{ destination: { subset: string }; weight: number }>).map((r) => [r.destination.subset, r.weight]),
    );
  };

  it.each([5, 25, 50, 100, 0])('weight %i: that share to the canary, the rest to stable, the header route kept first', (n) => {
    const before = rendered();
    const after = applyPatches(before, printedPatches(CANARY, ['weight', String(n), '--stable-replicas', '3']));
    const vs = find(after, 'VirtualService', 'lms-api');
    expect(vs.spec.http[0]).toEqual(find(before, 'VirtualService', 'lms-api').spec.http[0]);
    expect(split(after)).toEqual({ stable: 100 - n, canary: n });
    expect(vs.spec.http).toHaveLength(2);
    expect(validate([vs])).toContain('Valid: 1');
  });

  it('refuses a weight outside 0..100 or not a whole number', () => {
    for (const bad of ['101', '-5', '5.5', 'half', '']) expect(runScript(CANARY, ['weight', bad, '--print-patch']).status).toBe(1);
  });

  it("promote: stable takes the canary's image (nothing else of its pod changes), all traffic back on stable, the canary at zero", () => {
    const before = rendered();
    const image = '123456789012.dkr.ecr.us-east-1.amazonaws.com/legacy-migration-service:v2.0.0';
    const patches = printedPatches(CANARY, ['promote', '--canary-image', image, '--stable-replicas', '3']);
    // The order matters: the canary sized like stable, then all traffic on it while stable rolls to the new image.
    expect(patches.map((p) => `${p.kind}/${p.name}`)).toEqual([
      'Deployment/lms-api-canary',
      'VirtualService/lms-api',
      'Deployment/lms-api-stable',
      'VirtualService/lms-api',
      'Deployment/lms-api-canary',
    ]);
    expect(find(applyPatches(before, patches.slice(0, 1)), 'Deployment', 'lms-api-canary').spec.replicas).toBe(3);
    expect(split(applyPatches(before, patches.slice(0, 2)))).toEqual({ stable: 0, canary: 100 });
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

  it("against a cluster: promote reads the canary image, sizes the canary like stable, and waits for stable's rollout before moving traffic back", () => {
    const kubectl = fakeKubectl();
    try {
      const image = 'registry.example.com/legacy-migration-service:v2.0.0';
      expect(runScript(CANARY, ['promote'], { ...kubectl.env, FAKE_CANARY_IMAGE: image, FAKE_STABLE_REPLICAS: '4' }).status).toBe(0);
      const calls = kubectl.calls();
      expect(calls.map((c) => c.slice(2, 5).join(' '))).toEqual([
        'get deployment lms-api-canary',
        'get deployment lms-api-stable',
        'patch deployment lms-api-canary',
        'rollout status deployment/lms-api-canary',
        'patch virtualservice lms-api',
        'patch deployment lms-api-stable',
        'rollout status deployment/lms-api-stable',
        'patch virtualservice lms-api',
        'patch deployment lms-api-canary',
      ]);
      expect(JSON.parse(calls[2][calls[2].length - 1])).toEqual({ spec: { replicas: 4 } });
      expect(calls[5]).toEqual(expect.arrayContaining(['--type', 'strategic']));
      expect(JSON.parse(calls[5][calls[5].length - 1])).toEqual({ spec: { template: { spec: { containers: [{ name: 'app', image }] } } } });
    } finally {
      kubectl.cleanup();
    }
  });
});

describe('canary.sh sizes the canary before it takes traffic', () => {
  it.each([
    [5, 3, 1],
    [25, 3, 1],
    [25, 10, 3],
    [50, 3, 3],
    [100, 4, 4],
  ])('weight %i with stable at %i replicas: the canary at %i, then the weights', (weight, stable, want) => {
    const patches = printedPatches(CANARY, ['weight', String(weight), '--stable-replicas', String(stable)]);
    expect(patches.map((p) => `${p.kind}/${p.name}`)).toEqual(['Deployment/lms-api-canary', 'VirtualService/lms-api']);
    expect(find(applyPatches(render('strategies/istio-canary'), patches), 'Deployment', 'lms-api-canary').spec.replicas).toBe(want);
  });

  it("weight 0 only moves the routes; a weight above 0 in print mode needs stable's count", () => {
    expect(printedPatches(CANARY, ['weight', '0']).map((p) => p.kind)).toEqual(['VirtualService']);
    expect(runScript(CANARY, ['weight', '50', '--print-patch']).stderr).toContain('needs --stable-replicas');
  });

  it("against a cluster: reads stable's replicas and waits for the canary's rollout before the weight moves", () => {
    const kubectl = fakeKubectl();
    try {
      expect(runScript(CANARY, ['weight', '50'], { ...kubectl.env, FAKE_STABLE_REPLICAS: '6' }).status).toBe(0);
      const calls = kubectl.calls();
      expect(calls.map((c) => c.slice(2, 5).join(' '))).toEqual([
        'get deployment lms-api-stable',
        'patch deployment lms-api-canary',
        'rollout status deployment/lms-api-canary',
        'patch virtualservice lms-api',
      ]);
      expect(JSON.parse(calls[1][calls[1].length - 1])).toEqual({ spec: { replicas: 6 } });
    } finally {
      kubectl.cleanup();
    }
  });
});

describe('flagger.sh', () => {
  const FLAGGER = 'scripts/deploy/flagger.sh';
  const IMAGE = `123456789012.dkr.ecr.us-east-1.amazonaws.com/legacy-migration-service@sha256:${'b7'.repeat(32)}`;
  const OLD = `123456789012.dkr.ecr.us-east-1.amazonaws.com/legacy-migration-service@sha256:${'a1'.repeat(32)}`;
  const withKubectl = (args: string[], env: Record<string, string>) => {
    const kubectl = fakeKubectl();
    try {
      const r = runScript(FLAGGER, args, { ...kubectl.env, POLL_SECONDS: '0', ...env });
      return { ...r, calls: kubectl.calls().map((c) => c.join(' ')) };
    } finally {
      kubectl.cleanup();
    }
  };
  const statusReads = (calls: string[]) => calls.filter((c) => c.includes(' get canary lms-api ')).length;

  it("wait: a Succeeded left by the previous release is not this one's: waits for Progressing, then for the end, and checks the primary runs the image", () => {
    const r = withKubectl(['wait', IMAGE], {
      FAKE_CANARY_STATUS: 'Succeeded 0 0;Succeeded 0 0;Progressing 5 0;Progressing 10 0;Succeeded 0 0',
      FAKE_PRIMARY_IMAGE: `${OLD};${OLD};${IMAGE}`,
    });
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
    expect(statusReads(r.calls)).toBe(5);
    expect(r.stdout).toContain(`canary/lms-api: promoted ${IMAGE}`);
    expect(r.stdout).toContain('phase Progressing, canary weight 10 %, failed checks 0');
  });

  it('wait: a failed analysis ends the wait at once (exit 1), and so does a Failed only after this release started', () => {
    const failed = withKubectl(['wait', IMAGE], {
      FAKE_CANARY_STATUS: 'Succeeded 0 0;Progressing 5 1;Failed 0 5',
      FAKE_PRIMARY_IMAGE: OLD,
    });
    expect(failed.status).toBe(1);
    expect(failed.stderr).toContain(`the analysis of ${IMAGE} failed after 5 failed checks`);
    expect(statusReads(failed.calls)).toBe(3);
    // A Failed left by the previous release is not this one's result.
    const previousFailed = withKubectl(['wait', IMAGE], {
      FAKE_CANARY_STATUS: 'Failed 0 5;Failed 0 5;Progressing 5 0;Succeeded 0 0',
      FAKE_PRIMARY_IMAGE: IMAGE,
    });
    expect(previousFailed.status).toBe(0);
  });

  it('wait: refuses a success that promoted another image, and gives up when no analysis starts', () => {
    const other = withKubectl(['wait', IMAGE], {
      FAKE_CANARY_STATUS: 'Succeeded 0 0;Progressing 5 0;Succeeded 0 0',
      FAKE_PRIMARY_IMAGE: `${OLD};${OLD}`,
    });
    expect(other.status).toBe(1);
    expect(other.stderr).toContain(`the primary runs ${OLD}, not ${IMAGE}`);
    const never = withKubectl(['wait', IMAGE], { FAKE_CANARY_STATUS: 'Succeeded 0 0', FAKE_PRIMARY_IMAGE: OLD, DETECT_TIMEOUT: '0' });
    expect(never.status).toBe(1);
    expect(never.stderr).toContain(`no analysis of ${IMAGE} started within 0s`);
  });

  it('wait: the first deploy (initialised without analysis) and a release already promoted pass at once', () => {
    expect(withKubectl(['wait', IMAGE], { FAKE_CANARY_STATUS: 'Initialized 0 0', FAKE_PRIMARY_IMAGE: IMAGE }).status).toBe(0);
    const again = withKubectl(['wait', IMAGE], { FAKE_CANARY_STATUS: 'Succeeded 0 0', FAKE_PRIMARY_IMAGE: IMAGE });
    expect(again.status).toBe(0);
    expect(again.stdout).toContain('is promoted already');
  });

  it('pin-primary: the previous image on the primary, every pod replaced at once; nothing else of the primary changes', () => {
    const target = find(render('overlays/prod'), 'Deployment', 'lms-api');
    // Flagger's primary: the target's copy under another name and selector.
    const primary = mergePatch(target, {
      metadata: { name: 'lms-api-primary' },
      spec: { selector: { matchLabels: { app: 'lms-api-primary' } }, template: { metadata: { labels: { app: 'lms-api-primary' } } } },
    }) as Manifest;
    const patches = printedPatches(FLAGGER, ['pin-primary', OLD]);
    expect(patches.map((p) => `${p.kind}/${p.name}/${p.type}`)).toEqual(['Deployment/lms-api-primary/strategic']);
    const pinned = strategicPatch(primary, patches[0].patch) as Manifest;
    expect(pinned.spec.template.spec.containers[0].image).toBe(OLD);
    expect(pinned.spec.strategy).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxSurge: '100%', maxUnavailable: 0 } });
    const strip = (m: Manifest) =>
      JSON.stringify({
        ...m,
        spec: {
          ...m.spec,
          strategy: null,
          template: {
            ...m.spec.template,
            spec: { ...m.spec.template.spec, containers: m.spec.template.spec.containers.map((c: object) => ({ ...c, image: null })) },
          },
        },
      });
    expect(strip(pinned)).toBe(strip(primary));
    expect(validate([pinned])).toContain('Valid: 1');
  });

  it('pin-primary against a cluster: patches the primary and waits at most two minutes for it', () => {
    const r = withKubectl(['pin-primary', OLD], {});
    expect(r.status).toBe(0);
    expect(r.calls.map((c) => c.split(' ').slice(2, 5).join(' '))).toEqual([
      'patch deployment lms-api-primary',
      'rollout status deployment/lms-api-primary',
    ]);
    expect(r.calls[1]).toContain('--timeout=120s');
  });

  it("abort: opens the load tester's rollback gate, waits for Flagger to roll back, closes the gate again", () => {
    const r = withKubectl(['abort'], { FAKE_CANARY_STATUS: 'Progressing 15 0;Progressing 15 0;Failed 0 0', FAKE_PRIMARY_IMAGE: OLD });
    expect(r.status).toBe(0);
    const gates = r.calls.filter((c) => c.includes(' exec deploy/lms-loadtester -c loadtester -- curl '));
    expect(gates.map((c) => c.split(' ').pop())).toEqual(['http://localhost:8080/rollback/open', 'http://localhost:8080/rollback/close']);
    expect(gates[0]).toContain('{"name":"lms-api","namespace":"legacy-migration"}');
    expect(r.stdout).toContain(`rolled back; the primary runs ${OLD}`);
  });
});

describe('apply-overlay.sh', () => {
  const IMAGE = '123456789012.dkr.ecr.us-east-1.amazonaws.com/legacy-migration-service:v9.8.7';

  it('renders the overlay with the release image in every container, leaving the overlay untouched', () => {
    const r = runScript('scripts/deploy/apply-overlay.sh', ['deployment/kubernetes/overlays/staging', IMAGE, '--print']);
    expect(r.stderr).toBe('');
    const ms = parseManifests(r.stdout);
    const images = ourWorkloads(ms).flatMap((m) => m.spec.template.spec.containers.map((c: { image: string }) => c.image));
    expect(images.length).toBe(5);
    expect(new Set(images)).toEqual(new Set([IMAGE]));
    // The rest is the overlay as committed.
    const committed = render('overlays/staging');
    const withoutImages = (list: Manifest[]) => JSON.stringify(list).replace(/"image":"[^"]*"/g, '');
    expect(withoutImages(ms)).toBe(withoutImages(committed));
  });

  it('refuses a bad image reference or a folder without a kustomization', () => {
    expect(runScript('scripts/deploy/apply-overlay.sh', ['deployment/kubernetes/overlays/staging', 'not an image', '--print']).status).toBe(
      1,
    );
    expect(runScript('scripts/deploy/apply-overlay.sh', ['deployment', IMAGE, '--print']).stderr).toContain('has no kustomization.yaml');
  });

  it('against a cluster: namespace, identity and secrets first (the Secret awaited), then the migration Job alone, then everything, every rollout, and the canary analysis of the image', () => {
    const kubectl = fakeKubectl();
    try {
      const deployments = ofKind(render('overlays/staging'), 'Deployment').map((d) => d.metadata.name);
      const r = runScript('scripts/deploy/apply-overlay.sh', ['deployment/kubernetes/overlays/staging', IMAGE], {
        ...kubectl.env,
        FAKE_DEPLOYMENTS: deployments.join(' '),
        FAKE_CANARY_STATUS: 'Succeeded 0 0;Progressing 5 0;Succeeded 0 0',
        FAKE_PRIMARY_IMAGE: `123456789012.dkr.ecr.us-east-1.amazonaws.com/legacy-migration-service:v9.8.6;${IMAGE}`,
        POLL_SECONDS: '0',
      });
      expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
      const calls = kubectl.calls().map((c) => c.filter((a) => !a.includes('/rendered.yaml')).join(' '));
      const ns = '-n legacy-migration-staging';
      expect(calls.slice(0, 8 + deployments.length - 1)).toEqual([
        `${ns} apply -f -l app.kubernetes.io/component in (namespace,identity,secrets)`,
        `${ns} wait externalsecret/lms-secrets --for=condition=Ready --timeout=120s`,
        `${ns} delete job lms-migrate --ignore-not-found --wait=true`,
        `${ns} apply -f -l app.kubernetes.io/component=migration`,
        `${ns} get job lms-migrate -o jsonpath={.status.succeeded}`,
        `${ns} get job lms-migrate -o jsonpath={.status.conditions[?(@.type=="Failed")].status}`,
        `${ns} apply -f`,
        `${ns} get -f -o jsonpath={range .items[?(@.kind=="Deployment")]}{.metadata.name}{" "}{end}`,
        // Flagger rolls its target (the canary): no rollout wait for lms-api, the analysis instead.
        ...deployments.filter((d) => d !== 'lms-api').map((d) => `${ns} rollout status deployment/${d} --timeout=5m`),
      ]);
      expect(calls.slice(8 + deployments.length - 1).every((c) => / get (canary lms-api|deployment lms-api-primary) /.test(c))).toBe(true);
      expect(r.stdout).toContain(`canary/lms-api: promoted ${IMAGE}`);
    } finally {
      kubectl.cleanup();
    }
  });

  it('against a cluster: a failed migration Job stops the rollout before anything else is applied', () => {
    const kubectl = fakeKubectl();
    try {
      const r = runScript('scripts/deploy/apply-overlay.sh', ['deployment/kubernetes/overlays/staging', IMAGE], {
        ...kubectl.env,
        FAKE_JOB_SUCCEEDED: '',
        FAKE_JOB_FAILED: 'True',
      });
      expect(r.status).toBe(1);
      expect(r.stderr).toContain('the migration job did not succeed; nothing else was changed');
      // Only the secrets' and the Job's subsets were applied; never the whole render.
      expect(
        kubectl
          .calls()
          .filter((c) => c.includes('apply'))
          .map((c) => c[c.length - 1]),
      ).toEqual(['app.kubernetes.io/component in (namespace,identity,secrets)', 'app.kubernetes.io/component=migration']);
    } finally {
      kubectl.cleanup();
    }
  });

  it('against a cluster: a failed canary analysis fails the rollout', () => {
    const kubectl = fakeKubectl();
    try {
      const r = runScript('scripts/deploy/apply-overlay.sh', ['deployment/kubernetes/overlays/staging', IMAGE], {
        ...kubectl.env,
        FAKE_DEPLOYMENTS: 'lms-api lms-worker-sync',
        FAKE_CANARY_STATUS: 'Succeeded 0 0;Progressing 10 2;Failed 0 5',
        FAKE_PRIMARY_IMAGE: 'registry.example.com/legacy-migration-service:v9.8.6',
        POLL_SECONDS: '0',
      });
      expect(r.status).toBe(1);
      expect(r.stderr).toContain(`the analysis of ${IMAGE} failed after 5 failed checks`);
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

  const vector = (value: string) => ({
    status: 200,
    body: { status: 'success', data: { resultType: 'vector', result: [{ metric: {}, value: [1760000000, value] }] } },
  });
  const check = (env: Record<string, string> = {}) =>
    runScriptAsync('scripts/deploy/error-rate-check.sh', [], { PROMETHEUS_URL: url, ...env });

  it("passes at or below 1 %, asking Prometheus about this service's application requests", async () => {
    answer = vector('0.004');
    const r = await check({ PROMETHEUS_TOKEN: 'prometheus-token-0001' });
    expect(r).toMatchObject({
      status: 0,
      stdout: 'error-rate check: ok: 0.400 % of application requests failed with 5xx over the last 5m\n',
    });
    const query = new URL(last!.url!, url).searchParams.get('query')!;
    expect(query).toContain(
      'http_request_duration_seconds_count{job="lms-api-metrics",namespace="legacy-migration",route=~"/conversations.*",status=~"5.."}[5m]',
    );
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
    expect(await check()).toMatchObject({
      status: 3,
      stderr: expect.stringContaining('no application requests in namespace legacy-migration'),
    });
    answer = vector('NaN');
    expect((await check()).status).toBe(3);
    answer = { status: 400, body: { status: 'error', errorType: 'bad_data', error: 'parse error' } };
    expect((await check()).status).toBe(3);
    expect((await runScriptAsync('scripts/deploy/error-rate-check.sh', [], { PROMETHEUS_URL: 'http://127.0.0.1:1' })).stderr).toContain(
      'Prometheus did not answer',
    );
  });
});
