/**
 * The Route 53 traffic router against the real moto_server. What moto never does (throttle, answer
 * PriorRequestNotComplete, report PENDING, refuse a batch as a whole) is scripted by the fault layer
 * wrapping the router's real client; what it does wrong (accept weights outside 0..255, apply a failing
 * batch in part) is why the router checks weights itself and why rejected batches are faulted, not sent.
 * Weights are always read back through a separate, plain SDK client. Waits run on a fake clock advanced
 * by the injected sleep, so nothing here depends on timing.
 */
import { ChangeResourceRecordSetsCommand, ListResourceRecordSetsCommand, ResourceRecordSet, Route53Client } from '@aws-sdk/client-route-53';
import { DEFAULT_TARGETS, Route53Setup } from '../scripts/lib/route53-setup';
import { normalizeRecordName } from '../src/traffic/route53/record-sets';
import { Route53CallError, Route53RetireRefusedError, Route53SyncTimeoutError } from '../src/traffic/route53/route53-errors';
import type { Route53Settings } from '../src/traffic/route53/route53-settings';
import { route53SettingsFromConfig } from '../src/traffic/traffic.config';
import { Route53Target } from '../src/traffic/route53/route53-target';
import { Route53TrafficRouter } from '../src/traffic/route53/route53-traffic.router';
import { InvalidWeightsError, Weights, weightsForPercent, WeightsMismatchError } from '../src/traffic/traffic-router.port';
import { testConfig } from './support/env';
import { dropMotoZone, motoClient, motoRouterClient, motoZone } from './support/moto';
import { Route53Faults } from './support/route53-faults';

const PHASE_STEPS = [0, 5, 10, 25, 50, 75, 100];
const RETRY = { baseMs: 100, capMs: 1_000, maxAttempts: 5 };
const POLL_MS = 1_000;
const TIMEOUT_MS = 10_000;

const observer: Route53Client = motoClient();
const zones: Route53Setup[] = [];
const clients: Route53Client[] = [];

afterAll(async () => {
  for (const zone of zones) await dropMotoZone(zone);
  for (const client of [observer, ...clients]) client.destroy();
});

interface Harness {
  zone: Route53Setup;
  router: Route53TrafficRouter;
  faults: Route53Faults;
  /** Every back-off and poll wait the router asked for, in ms; each advances the fake clock. */
  sleeps: number[];
}

async function harness(options: Parameters<typeof motoZone>[0] = {}, overrides: Partial<Route53Settings> = {}): Promise<Harness> {
  const zone = await motoZone(options);
  zones.push(zone);
  const client = motoRouterClient();
  clients.push(client);
  const faults = Route53Faults.attach(client);
  const sleeps: number[] = [];
  let clock = 0;
  const settings: Route53Settings = { ...zone.settings, pollIntervalMs: POLL_MS, syncTimeoutMs: TIMEOUT_MS, retry: RETRY, ...overrides };
  const router = new Route53TrafficRouter(settings, client, {
    sleep: async (ms) => {
      sleeps.push(ms);
      clock += ms;
    },
    now: () => clock,
    random: () => 0.5,
  });
  return { zone, router, faults, sleeps };
}

async function listZone(zone: Route53Setup): Promise<ResourceRecordSet[]> {
  const out = await observer.send(new ListResourceRecordSetsCommand({ HostedZoneId: zone.hostedZoneId }));
  return out.ResourceRecordSets ?? [];
}

function weighted(records: ResourceRecordSet[], zone: Route53Setup, setId: string): ResourceRecordSet | undefined {
  return records.find(
    (r) =>
      r.SetIdentifier === setId &&
      r.Type === zone.settings.recordType &&
      normalizeRecordName(r.Name!) === normalizeRecordName(zone.settings.recordName),
  );
}

/** The weights as an independent client sees them in moto. */
async function readBack(zone: Route53Setup): Promise<{ legacy: number | 'absent'; new: number | 'absent' }> {
  const records = await listZone(zone);
  return { legacy: weighted(records, zone, 'legacy')?.Weight ?? 'absent', new: weighted(records, zone, 'new')?.Weight ?? 'absent' };
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

describe('Route53TrafficRouter on moto_server', () => {
  it('applies every step of the phase plan in one batch each and reads the weights back', async () => {
    const { zone, router, faults } = await harness();
    expect(await readBack(zone)).toEqual({ legacy: 100, new: 0 });
    let fenced = false;
    for (const percent of PHASE_STEPS) {
      faults.reset();
      const weights = weightsForPercent(percent);
      const change = await router.apply(weights);
      expect(change.changeId).toEqual(expect.any(String));
      expect(await readBack(zone)).toEqual(weights);
      expect(await router.read()).toEqual(weights);

      const batches = faults.sent.filter((c) => c.operation === 'ChangeResourceRecordSets');
      expect(batches).toHaveLength(1);
      const changes = batches[0].input.ChangeBatch.Changes;
      // The fence record as read goes (none before the first batch), a new one comes, and both weights change.
      expect(
        changes.map((c: any) => [c.Action, c.ResourceRecordSet.Type, c.ResourceRecordSet.SetIdentifier, c.ResourceRecordSet.Weight]),
      ).toEqual([
        ...(fenced ? [['DELETE', 'TXT', undefined, undefined]] : []),
        ['CREATE', 'TXT', undefined, undefined],
        ['UPSERT', 'A', 'legacy', weights.legacy],
        ['UPSERT', 'A', 'new', weights.new],
      ]);
      fenced = true;
      expect(faults.calls('GetChange')).toBeGreaterThanOrEqual(1);
    }
  });

  const targetCases: Array<{ name: string; recordType: 'A' | 'AAAA' | 'CNAME'; targets: { legacy: Route53Target; new: Route53Target } }> = [
    {
      name: 'plain A values',
      recordType: 'A',
      targets: { legacy: { kind: 'values', values: ['192.0.2.10', '192.0.2.11'] }, new: { kind: 'values', values: ['198.51.100.20'] } },
    },
    {
      name: 'plain AAAA values',
      recordType: 'AAAA',
      targets: { legacy: { kind: 'values', values: ['2001:db8::10'] }, new: { kind: 'values', values: ['2001:db8::20'] } },
    },
    {
      name: 'CNAME values',
      recordType: 'CNAME',
      targets: { legacy: { kind: 'values', values: ['legacy.example.net'] }, new: { kind: 'values', values: ['new.example.net'] } },
    },
    {
      name: 'alias targets',
      recordType: 'A',
      targets: {
        legacy: {
          kind: 'alias',
          hostedZoneId: 'Z35SXDOTRQ7X7K',
          dnsName: 'legacy-lb-1.us-east-1.elb.amazonaws.com',
          evaluateTargetHealth: true,
        },
        new: { kind: 'alias', hostedZoneId: 'Z2FDTNDATAQYW2', dnsName: 'd111111abcdef8.cloudfront.net', evaluateTargetHealth: false },
      },
    },
    {
      name: 'an alias and plain values side by side',
      recordType: 'A',
      targets: {
        legacy: DEFAULT_TARGETS.legacy,
        new: { kind: 'alias', hostedZoneId: 'Z35SXDOTRQ7X7K', dnsName: 'new-lb-2.us-east-1.elb.amazonaws.com', evaluateTargetHealth: true },
      },
    },
  ];

  it.each(targetCases)('keeps the targets of $name while the weights move, and retires legacy', async ({ recordType, targets }) => {
    const { zone, router } = await harness({ recordType, targets, ttl: 30 });
    await router.apply(weightsForPercent(25));
    expect(await readBack(zone)).toEqual({ legacy: 75, new: 25 });

    const records = await listZone(zone);
    for (const side of ['legacy', 'new'] as const) {
      const record = weighted(records, zone, side)!;
      const target = targets[side];
      if (target.kind === 'alias') {
        expect(record.AliasTarget).toEqual({
          HostedZoneId: target.hostedZoneId,
          DNSName: target.dnsName,
          EvaluateTargetHealth: target.evaluateTargetHealth,
        });
        expect(record.ResourceRecords ?? []).toEqual([]);
        // moto reports TTL 0 on alias records (Route 53 reports none); the router never sends one.
      } else {
        expect(record.ResourceRecords?.map((r) => r.Value)).toEqual(target.values);
        expect(record.TTL).toBe(30);
        expect(record.AliasTarget).toBeUndefined();
      }
    }

    await router.apply(weightsForPercent(100));
    const retired = await router.retireLegacy();
    expect(retired.changeId).toEqual(expect.any(String));
    expect(await readBack(zone)).toEqual({ legacy: 'absent', new: 100 });
  });

  it('retries Throttling (HTTP 400 code shape) and ThrottlingException with growing back-off, then succeeds', async () => {
    const { zone, router, faults, sleeps } = await harness();
    faults
      .fail('ChangeResourceRecordSets', 'Throttling', 3)
      .fail('GetChange', 'ThrottlingException', 1)
      .fail('ListResourceRecordSets', 'Throttling', 1);

    await router.apply(weightsForPercent(10));

    expect(await readBack(zone)).toEqual({ legacy: 90, new: 10 });
    expect(faults.unused()).toBe(0);
    expect(faults.sent.filter((c) => c.operation === 'ChangeResourceRecordSets').map((c) => c.outcome)).toEqual([
      'Throttling',
      'Throttling',
      'Throttling',
      'sent',
    ]);
    // random() is 0.5, so each wait is 3/4 of min(cap, base * 2^(n-1)); the listing's throttle meets the fence's read.
    expect(sleeps).toEqual([75, 75, 150, 300, 75]);
  });

  it('refuses, whole, a batch decided on a read that another batch has replaced since (the fence), also when the weights came back', async () => {
    const { zone, router } = await harness();
    // No fence yet: two writers that read nothing; the second one's CREATE meets the first one's record.
    const empty = await router.state();
    expect(empty).toEqual({ fence: null, weights: { legacy: 100, new: 0 } });
    await router.apply(weightsForPercent(5), { from: empty.fence, changeId: 1 });
    const late = await rejection(router.submit(weightsForPercent(10), { from: empty.fence, changeId: 2 }));
    expect(late.message).toMatch(/InvalidChangeBatch: .*_traffic-fence\..* already exists/);
    expect(await readBack(zone)).toEqual({ legacy: 95, new: 5 });

    // A reader that stalls while two batches go by, the second one putting back the weights it read (a rollback).
    const stale = await router.state();
    expect(stale.fence).toMatchObject({ changeId: 1 });
    await router.apply(weightsForPercent(10), { from: stale.fence, changeId: 3 });
    await router.apply(weightsForPercent(5), { from: (await router.state()).fence, changeId: 4 });
    expect(await readBack(zone)).toEqual(stale.weights);
    const zombie = await rejection(router.submit(weightsForPercent(50), { from: stale.fence, changeId: 3 }));
    expect(zombie.message).toMatch(/InvalidChangeBatch: .*_traffic-fence\..* do not match the current values/);
    expect(await readBack(zone)).toEqual({ legacy: 95, new: 5 });
    expect((await router.state()).fence).toMatchObject({ changeId: 4 });
  });

  it('retries PriorRequestNotComplete until the prior change has cleared', async () => {
    const { zone, router, faults } = await harness();
    faults.fail('ChangeResourceRecordSets', 'PriorRequestNotComplete', 2);

    await router.apply(weightsForPercent(50));

    expect(await readBack(zone)).toEqual({ legacy: 50, new: 50 });
    expect(faults.calls('ChangeResourceRecordSets')).toBe(3);
  });

  it('gives up after the configured attempts with the provider message, weights unchanged', async () => {
    const { zone, router, faults, sleeps } = await harness();
    faults.fail('ChangeResourceRecordSets', 'Throttling', RETRY.maxAttempts);

    const err = await rejection(router.apply(weightsForPercent(5)));

    expect(err).toBeInstanceOf(Route53CallError);
    expect(err.message).toBe(`Route 53 ChangeResourceRecordSets failed after ${RETRY.maxAttempts} attempts: Throttling: Rate exceeded`);
    expect(faults.calls('ChangeResourceRecordSets')).toBe(RETRY.maxAttempts);
    expect(sleeps).toEqual([75, 150, 300, 600]);
    expect(await readBack(zone)).toEqual({ legacy: 100, new: 0 });
  });

  it('polls GetChange while the change is PENDING, then reads the weights back', async () => {
    const { zone, router, faults, sleeps } = await harness();
    faults.pending(3);

    await router.apply(weightsForPercent(75));

    expect(faults.calls('GetChange')).toBe(4);
    expect(sleeps).toEqual([POLL_MS, POLL_MS, POLL_MS]);
    expect(await readBack(zone)).toEqual({ legacy: 25, new: 75 });
  });

  it('fails clearly when the change stays PENDING beyond the timeout', async () => {
    const { router, faults } = await harness();
    faults.pending(Infinity);

    const change = await router.submit(weightsForPercent(25));
    const err = await rejection(router.settle(change, weightsForPercent(25)));

    expect(err).toBeInstanceOf(Route53SyncTimeoutError);
    expect(err.message).toContain(`Route 53 change ${change.changeId} was still PENDING after waiting ${TIMEOUT_MS} ms`);
    expect((err as Route53SyncTimeoutError).changeId).toBe(change.changeId);
    // A look at 0 s and one every poll interval up to and including the deadline.
    expect(faults.calls('GetChange')).toBe(TIMEOUT_MS / POLL_MS + 1);
  });

  it('waits on the change it submitted: each change has an id of its own, and one never issued is NoSuchChange, as in Route 53', async () => {
    // moto gives every change one fixed id and says INSYNC for any id; scripts/lib/moto-server.py does what Route 53
    // does, so a router that waited on another change's id, or on one it never got, fails here too.
    const { router } = await harness();
    const first = await router.submit(weightsForPercent(5));
    const second = await router.submit(weightsForPercent(10));
    expect(first.changeId).toMatch(/^\/change\/C[0-9A-Z]+$/);
    expect(second.changeId).not.toBe(first.changeId);
    await router.settle(second, weightsForPercent(10));

    const err = await rejection(router.settle({ changeId: '/change/C2682N5HXP0BZ4' }, weightsForPercent(10)));
    expect(err).toBeInstanceOf(Route53CallError);
    expect((err as Route53CallError).providerCode).toBe('NoSuchChange');
  });

  it('surfaces a rejected batch with the provider message, does not retry it, and leaves the weights alone', async () => {
    const { zone, router, faults } = await harness();
    await router.apply(weightsForPercent(10));
    faults.reset().fail('ChangeResourceRecordSets', 'InvalidChangeBatch', 1);

    const err = await rejection(router.apply(weightsForPercent(25)));

    expect(err).toBeInstanceOf(Route53CallError);
    expect(err.message).toBe(
      "Route 53 ChangeResourceRecordSets failed: InvalidChangeBatch: [Tried to create resource record set [name='app.example.test.', type='A', set-identifier='new'] but it already exists]",
    );
    expect((err as Route53CallError).providerCode).toBe('InvalidChangeBatch');
    expect(faults.calls('ChangeResourceRecordSets')).toBe(1);
    expect(faults.calls('GetChange')).toBe(0);
    expect(await readBack(zone)).toEqual({ legacy: 90, new: 10 });
  });

  it('keeps the messages of a batch refused in the older <InvalidChangeBatch><Messages> shape', async () => {
    const { zone, router, faults } = await harness();
    faults.fail(
      'ChangeResourceRecordSets',
      'InvalidChangeBatchMessages',
      1,
      'RRSet with DNS name app.example.test. is not permitted in zone other.test.',
    );

    const err = await rejection(router.apply(weightsForPercent(5)));

    expect(err.message).toBe(
      'Route 53 ChangeResourceRecordSets failed: InvalidChangeBatch: RRSet with DNS name app.example.test. is not permitted in zone other.test.',
    );
    expect(faults.calls('ChangeResourceRecordSets')).toBe(1);
    expect(await readBack(zone)).toEqual({ legacy: 100, new: 0 });
  });

  it('surfaces an error moto itself returns (no such hosted zone) without retrying it', async () => {
    const { router, faults } = await harness({}, { hostedZoneId: 'ZNOSUCHZONE0000000001' });

    const err = await rejection(router.apply(weightsForPercent(5)));

    expect(err).toBeInstanceOf(Route53CallError);
    // The first call is the fence's read, before the batch.
    expect(err.message).toMatch(/^Route 53 ListResourceRecordSets \(fence\) failed: NoSuchHostedZone: /);
    expect(faults.calls()).toBe(1);
  });

  it.each<[string, Weights]>([
    ['above 255', { legacy: 256, new: 0 }],
    ['negative', { legacy: 100, new: -1 }],
    ['not an integer', { legacy: 99.5, new: 0.5 }],
    ['not a number', { legacy: Number.NaN, new: 1 }],
    ['both zero', { legacy: 0, new: 0 }],
  ])('refuses weights %s without a single call', async (_label, weights) => {
    const { zone, router, faults } = await harness();

    await expect(router.submit(weights)).rejects.toBeInstanceOf(InvalidWeightsError);
    await expect(router.apply(weights)).rejects.toBeInstanceOf(InvalidWeightsError);

    expect(faults.calls()).toBe(0);
    expect(await readBack(zone)).toEqual({ legacy: 100, new: 0 });
  });

  it('settle reports weights that differ from the ones asked for', async () => {
    const { zone, router } = await harness();
    const change = await router.submit(weightsForPercent(25));
    // Someone else changes the legacy record between submit and settle.
    await observer.send(
      new ChangeResourceRecordSetsCommand({
        HostedZoneId: zone.hostedZoneId,
        ChangeBatch: {
          Changes: [{ Action: 'UPSERT', ResourceRecordSet: { ...weighted(await listZone(zone), zone, 'legacy')!, Weight: 60 } }],
        },
      }),
    );

    const err = await rejection(router.settle(change, weightsForPercent(25)));

    expect(err).toBeInstanceOf(WeightsMismatchError);
    expect((err as WeightsMismatchError).actual).toEqual({ legacy: 60, new: 25 });
  });

  it('retireLegacy deletes only the legacy record, waits for it, and is idempotent', async () => {
    const { zone, router, faults } = await harness();
    const other = `other.${zone.zoneName}`;
    await observer.send(
      new ChangeResourceRecordSetsCommand({
        HostedZoneId: zone.hostedZoneId,
        ChangeBatch: {
          Changes: [
            { Action: 'UPSERT', ResourceRecordSet: { Name: other, Type: 'A', TTL: 60, ResourceRecords: [{ Value: '192.0.2.99' }] } },
          ],
        },
      }),
    );
    await router.apply(weightsForPercent(100));
    faults.reset().pending(2);

    const first = await router.retireLegacy();

    expect(first.changeId).toEqual(expect.any(String));
    expect(faults.calls('GetChange')).toBe(3);
    const deletes = faults.sent.filter((c) => c.operation === 'ChangeResourceRecordSets');
    expect(deletes).toHaveLength(1);
    expect(deletes[0].input.ChangeBatch.Changes).toEqual([
      { Action: 'DELETE', ResourceRecordSet: expect.objectContaining({ Type: 'TXT', Name: expect.stringMatching(/^_traffic-fence\./) }) },
      { Action: 'CREATE', ResourceRecordSet: expect.objectContaining({ Type: 'TXT', Name: expect.stringMatching(/^_traffic-fence\./) }) },
      {
        Action: 'DELETE',
        ResourceRecordSet: expect.objectContaining({
          SetIdentifier: 'legacy',
          Weight: 0,
          TTL: 60,
          ResourceRecords: [{ Value: '192.0.2.10' }],
        }),
      },
    ]);
    const records = await listZone(zone);
    expect(weighted(records, zone, 'legacy')).toBeUndefined();
    expect(weighted(records, zone, 'new')?.Weight).toBe(100);
    expect(records.some((r) => normalizeRecordName(r.Name!) === normalizeRecordName(other))).toBe(true);
    expect(await router.read()).toBeNull();

    faults.reset();
    expect(await router.retireLegacy()).toEqual({ changeId: null });
    expect(faults.calls('ChangeResourceRecordSets')).toBe(0);
  });

  it('retireLegacy refuses while the legacy record still takes traffic', async () => {
    const { zone, router, faults } = await harness();
    await router.apply(weightsForPercent(75));
    faults.reset();

    const err = await rejection(router.retireLegacy());

    expect(err).toBeInstanceOf(Route53RetireRefusedError);
    expect(err.message).toContain('still has weight 25');
    expect(faults.calls('ChangeResourceRecordSets')).toBe(0);
    expect(await readBack(zone)).toEqual({ legacy: 25, new: 75 });
  });

  it('read() is null when one of the records is missing', async () => {
    const { zone, router } = await harness();
    await observer.send(
      new ChangeResourceRecordSetsCommand({
        HostedZoneId: zone.hostedZoneId,
        ChangeBatch: { Changes: [{ Action: 'DELETE', ResourceRecordSet: weighted(await listZone(zone), zone, 'new')! }] },
      }),
    );

    expect(await router.read()).toBeNull();
    const err = await rejection(router.settle({ changeId: null }, weightsForPercent(0)));
    expect(err).toBeInstanceOf(WeightsMismatchError);
  });

  it('works when built from the environment, as TRAFFIC_PROVIDER=route53 boots it', async () => {
    const zone = await motoZone({ ttl: 5 });
    zones.push(zone);
    const config = testConfig({ ...zone.env, ROUTE53_POLL_MS: '10', ROUTE53_SYNC_TIMEOUT_MS: '5000' });
    expect(config.traffic.provider).toBe('route53');
    // Credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY in .env.local; the client is the router's own.
    const router = new Route53TrafficRouter(route53SettingsFromConfig(config.traffic));

    expect(await router.read()).toEqual({ legacy: 100, new: 0 });
    await router.apply(weightsForPercent(5));
    expect(await readBack(zone)).toEqual({ legacy: 95, new: 5 });
  });
});
