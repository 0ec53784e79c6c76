/**
 * The traffic router on Route 53: two weighted records of one name and type, set identifiers `legacy`
 * and `new`.
 *
 * - `submit` checks the weights before anything is sent (Route 53 would take 0/0 and split traffic
 *   equally; emulators take anything), then sends ONE ChangeResourceRecordSets batch with both UPSERTs,
 *   which Route 53 applies all or nothing, and returns the change id. The batch also replaces the fence
 *   record (record-sets.ts) as the caller read it, so Route 53 refuses it if another batch came first.
 * - `settle` polls GetChange until INSYNC (or times out naming the change), then lists the records
 *   and compares both weights with the ones asked for.
 * - `retireLegacy` deletes the legacy record as it exists (a DELETE must match it exactly), only once
 *   it carries no traffic and the new record is there to answer; fenced the same way.
 * - Every call goes through `withRetries`: throttling and PriorRequestNotComplete are retried with
 *   jittered exponential back-off; anything else fails at once with the provider's message. The SDK's
 *   own retries are off (see `createRoute53Client`) so this is the only retry loop.
 *
 * It holds no state of its own: the intent log (TrafficService) decides what to send and when.
 */
import {
  ChangeResourceRecordSetsCommand,
  GetChangeCommand,
  ListResourceRecordSetsCommand,
  ResourceRecordSet,
  Route53Client,
  RRType,
} from '@aws-sdk/client-route-53';
import {
  AppliedChange,
  checkWeights,
  Fence,
  FencedBy,
  sameWeights,
  TrafficRouter,
  TrafficState,
  Weights,
  WeightsMismatchError,
} from '../traffic-router.port';
import { deleteShape, FENCE_TYPE, fenceChanges, fenceOf, fenceRecordName, findSides, isOurs, upsertBoth, weightsOf } from './record-sets';
import { RetryEvent, realSleep, withRetries } from './retry';
import { isRetryableRoute53Error, Route53CallError, Route53RetireRefusedError } from './route53-errors';
import { createRoute53Client } from './route53-client';
import type { Route53Settings } from './route53-settings';
import { waitForInSync } from './sync-wait';

export interface Route53RouterDeps {
  sleep: (ms: number) => Promise<void>;
  random: () => number;
  now: () => number;
  onRetry?: (event: RetryEvent) => void;
}

const REAL_DEPS: Route53RouterDeps = { sleep: realSleep, random: Math.random, now: Date.now };
/** Listing pages to look through for our two records (they sit together; more means something is off). */
const MAX_LIST_PAGES = 10;

export class Route53TrafficRouter implements TrafficRouter {
  readonly provider = 'route53';
  private readonly deps: Route53RouterDeps;

  /** `client` defaults to one built from the settings; tests pass a real client with a fault layer attached. */
  constructor(
    private readonly settings: Route53Settings,
    private readonly client: Route53Client = createRoute53Client(settings),
    deps: Partial<Route53RouterDeps> = {},
  ) {
    this.deps = { ...REAL_DEPS, ...deps };
  }

  async submit(weights: Weights, fence?: FencedBy): Promise<AppliedChange> {
    checkWeights(weights);
    const from = fence ? fence.from : await this.readFence();
    const changes = [...fenceChanges(this.settings.recordName, from, fence?.changeId ?? null), ...upsertBoth(this.settings, weights)];
    const out = await this.call('ChangeResourceRecordSets', () =>
      this.client.send(
        new ChangeResourceRecordSetsCommand({
          HostedZoneId: this.settings.hostedZoneId,
          ChangeBatch: { Comment: `traffic: legacy ${weights.legacy} / new ${weights.new}`, Changes: changes },
        }),
      ),
    );
    const changeId = out.ChangeInfo?.Id;
    if (!changeId) throw new Error('Route 53 ChangeResourceRecordSets answered without a change id');
    return { changeId };
  }

  async settle(change: AppliedChange, weights: Weights): Promise<void> {
    // No id: nothing was sent (the weights were already in effect), so only the read-back remains.
    if (change.changeId) await this.waitInSync(change.changeId);
    const actual = await this.read();
    if (!sameWeights(actual, weights)) throw new WeightsMismatchError(weights, actual);
  }

  async apply(weights: Weights, fence?: FencedBy): Promise<AppliedChange> {
    const change = await this.submit(weights, fence);
    await this.settle(change, weights);
    return change;
  }

  async read(): Promise<Weights | null> {
    return weightsOf(findSides(await this.listOurRecords(), this.settings));
  }

  async state(): Promise<TrafficState> {
    const fence = await this.readFence();
    return { fence, weights: await this.read() };
  }

  async retireLegacy(trafficChange?: number): Promise<AppliedChange> {
    const fence = await this.readFence();
    const { legacy, new: next } = findSides(await this.listOurRecords(), this.settings);
    if (!legacy) return { changeId: null };
    if (!next) throw new Route53RetireRefusedError('the new weighted record does not exist, so the name would stop answering');
    if (legacy.Weight !== 0)
      throw new Route53RetireRefusedError(`it still has weight ${legacy.Weight} (new: ${next.Weight}); move all traffic to new first`);
    if (next.Weight === 0) throw new Route53RetireRefusedError('the new record has weight 0 too; set it above 0 first');
    const out = await this.call('ChangeResourceRecordSets (delete legacy)', () =>
      this.client.send(
        new ChangeResourceRecordSetsCommand({
          HostedZoneId: this.settings.hostedZoneId,
          ChangeBatch: {
            Comment: 'traffic: retire the legacy record',
            Changes: [...fenceChanges(this.settings.recordName, fence, trafficChange ?? null), deleteShape(legacy)],
          },
        }),
      ),
    );
    const changeId = out.ChangeInfo?.Id ?? null;
    if (changeId) await this.waitInSync(changeId);
    const after = findSides(await this.listOurRecords(), this.settings);
    if (after.legacy) throw new Error(`Route 53 change ${changeId} is in effect but the legacy record is still listed`);
    return { changeId };
  }

  private async waitInSync(changeId: string): Promise<void> {
    await waitForInSync(
      changeId,
      async () => (await this.call('GetChange', () => this.client.send(new GetChangeCommand({ Id: changeId })))).ChangeInfo?.Status,
      { pollIntervalMs: this.settings.pollIntervalMs, timeoutMs: this.settings.syncTimeoutMs, now: this.deps.now, sleep: this.deps.sleep },
    );
  }

  /** The fence record (a listing that starts at its name and type: it comes first if it exists). */
  private async readFence(): Promise<Fence | null> {
    const name = fenceRecordName(this.settings.recordName);
    const out = await this.call('ListResourceRecordSets (fence)', () =>
      this.client.send(
        new ListResourceRecordSetsCommand({
          HostedZoneId: this.settings.hostedZoneId,
          StartRecordName: name,
          StartRecordType: FENCE_TYPE,
          MaxItems: 1,
        }),
      ),
    );
    return fenceOf(out.ResourceRecordSets ?? [], this.settings.recordName);
  }

  /**
   * Our records, listed from our name and type on. Route 53 sorts by name (labels reversed) then type,
   * so they come first; the listing stops at the first record of another name or type.
   */
  private async listOurRecords(): Promise<ResourceRecordSet[]> {
    const ours: ResourceRecordSet[] = [];
    let start: { name: string; type: RRType; identifier?: string } = { name: this.settings.recordName, type: this.settings.recordType };
    for (let page = 0; page < MAX_LIST_PAGES; page++) {
      const from = start;
      const out = await this.call('ListResourceRecordSets', () =>
        this.client.send(
          new ListResourceRecordSetsCommand({
            HostedZoneId: this.settings.hostedZoneId,
            StartRecordName: from.name,
            StartRecordType: from.type,
            StartRecordIdentifier: from.identifier,
            MaxItems: 100,
          }),
        ),
      );
      const sets = out.ResourceRecordSets ?? [];
      ours.push(...sets.filter((s) => isOurs(s, this.settings)));
      const passedOurs = sets.some((s) => !isOurs(s, this.settings));
      if (!out.IsTruncated || passedOurs || !out.NextRecordName || !out.NextRecordType) break;
      const next = { name: out.NextRecordName, type: out.NextRecordType, identifier: out.NextRecordIdentifier };
      if (!isOurs({ Name: next.name, Type: next.type }, this.settings)) break;
      // An emulator that ignores StartRecordIdentifier would hand back the same page for ever.
      if (next.name === from.name && next.type === from.type && next.identifier === from.identifier) break;
      start = next;
    }
    return ours;
  }

  private async call<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await withRetries(`Route 53 ${operation}`, fn, this.settings.retry, isRetryableRoute53Error, this.deps);
    } catch (err) {
      throw new Route53CallError(operation, err);
    }
  }
}
