/**
 * The two weighted records as Route 53 stores them, built and recognised without any I/O.
 *
 * Names: Route 53 answers with the fully qualified name (trailing dot), in lower case, with characters
 * outside [a-z0-9-_] written as octal escapes (`*` comes back as `\052`); the configured name may have
 * none of that. Names are compared in one normal form: escapes decoded, lower case, no trailing dot.
 */
import { randomBytes } from 'node:crypto';
import type { Change, ResourceRecordSet } from '@aws-sdk/client-route-53';
import type { Fence, Weights } from '../traffic-router.port';
import type { RecordType, Route53Target } from './route53-target';

export const SET_IDS = { legacy: 'legacy', new: 'new' } as const;
export type Side = keyof typeof SET_IDS;

export interface RecordIdentity {
  recordName: string;
  recordType: RecordType;
}

export interface RecordSettings extends RecordIdentity {
  ttl: number;
  targets: Record<Side, Route53Target>;
}

export function normalizeRecordName(name: string): string {
  const decoded = name.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
  return decoded.toLowerCase().replace(/\.$/, '');
}

export function sameRecordName(a: string | undefined, b: string | undefined): boolean {
  return a !== undefined && b !== undefined && normalizeRecordName(a) === normalizeRecordName(b);
}

export function isOurs(set: ResourceRecordSet, id: RecordIdentity): boolean {
  return sameRecordName(set.Name, id.recordName) && set.Type === id.recordType;
}

/** The weighted record of one side with the given weight, as an UPSERT sends it. Alias records carry no TTL. */
export function weightedRecord(settings: RecordSettings, side: Side, weight: number): ResourceRecordSet {
  const target = settings.targets[side];
  const base: ResourceRecordSet = { Name: settings.recordName, Type: settings.recordType, SetIdentifier: SET_IDS[side], Weight: weight };
  if (target.kind === 'alias') {
    return {
      ...base,
      AliasTarget: { HostedZoneId: target.hostedZoneId, DNSName: target.dnsName, EvaluateTargetHealth: target.evaluateTargetHealth },
    };
  }
  return { ...base, TTL: settings.ttl, ResourceRecords: target.values.map((Value) => ({ Value })) };
}

/** One batch, both sides: Route 53 applies a batch all or nothing, so the pair changes together. */
export function upsertBoth(settings: RecordSettings, weights: Weights): Change[] {
  return (Object.keys(SET_IDS) as Side[]).map((side) => ({
    Action: 'UPSERT',
    ResourceRecordSet: weightedRecord(settings, side, weights[side]),
  }));
}

/** Our records found among a listing, by set identifier; anything else in the listing is ignored. */
export function findSides(sets: readonly ResourceRecordSet[], id: RecordIdentity): Partial<Record<Side, ResourceRecordSet>> {
  const found: Partial<Record<Side, ResourceRecordSet>> = {};
  for (const set of sets) {
    if (!isOurs(set, id)) continue;
    for (const side of Object.keys(SET_IDS) as Side[]) {
      if (set.SetIdentifier === SET_IDS[side] && typeof set.Weight === 'number') found[side] = set;
    }
  }
  return found;
}

export function weightsOf(found: Partial<Record<Side, ResourceRecordSet>>): Weights | null {
  if (!found.legacy || !found.new) return null;
  return { legacy: found.legacy.Weight!, new: found.new.Weight! };
}

/**
 * A DELETE must carry the record exactly as it exists, so it is built from the record read back.
 * An alias record has no TTL (some emulators report `TTL: 0` for one; sending it would be refused).
 */
export function deleteShape(existing: ResourceRecordSet): Change {
  const record: ResourceRecordSet = { ...existing };
  if (record.AliasTarget) delete record.TTL;
  return { Action: 'DELETE', ResourceRecordSet: record };
}

/**
 * The fence: a TXT record beside the weighted pair (`_traffic-fence.` and the record's name, a wildcard's `*.`
 * left out) whose value names the traffic change that last wrote the pair, with a nonce. Every batch the router
 * sends DELETEs the fence exactly as the router read it before deciding, and CREATEs a new one. Route 53 applies a
 * batch all or nothing and refuses a DELETE that does not match the record as it exists (InvalidChangeBatch), or a
 * CREATE of a record that exists: so a batch decided on a view that another batch has since replaced is refused
 * whole. Weights alone cannot tell (a rollback puts the same weights back); the nonce can.
 */
export const FENCE_TYPE = 'TXT';
const FENCE_TTL = 300;

export function fenceRecordName(recordName: string): string {
  return `_traffic-fence.${recordName.replace(/^\*\./, '').replace(/\.$/, '')}`;
}

/** The fence as read from its record set; null if the listing did not start with it. */
export function fenceOf(sets: readonly ResourceRecordSet[], recordName: string): Fence | null {
  const set = sets.find((s) => sameRecordName(s.Name, fenceRecordName(recordName)) && s.Type === FENCE_TYPE);
  if (!set) return null;
  const token = (set.ResourceRecords ?? []).map((r) => r.Value ?? '').join(' ');
  const id = /traffic-change=(\d+)/.exec(token);
  return { changeId: id ? Number(id[1]) : null, token, record: set };
}

/** The fence's two changes in a batch: DELETE it as `from` read it (if there was one), CREATE it anew for `changeId`. */
export function fenceChanges(recordName: string, from: Fence | null, changeId: number | null): Change[] {
  const token = `"traffic-change=${changeId ?? 'none'} nonce=${randomBytes(8).toString('hex')}"`;
  const next: ResourceRecordSet = {
    Name: fenceRecordName(recordName),
    Type: FENCE_TYPE,
    TTL: FENCE_TTL,
    ResourceRecords: [{ Value: token }],
  };
  const previous = from?.record as ResourceRecordSet | undefined;
  return [...(previous ? [{ Action: 'DELETE' as const, ResourceRecordSet: previous }] : []), { Action: 'CREATE', ResourceRecordSet: next }];
}
