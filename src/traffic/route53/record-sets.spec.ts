import type { ResourceRecordSet } from '@aws-sdk/client-route-53';
import {
  deleteShape,
  fenceChanges,
  fenceOf,
  fenceRecordName,
  findSides,
  normalizeRecordName,
  RecordSettings,
  upsertBoth,
  weightsOf,
} from './record-sets';

const SETTINGS: RecordSettings = {
  recordName: 'API.Example.com',
  recordType: 'A',
  ttl: 30,
  targets: {
    legacy: { kind: 'values', values: ['192.0.2.1', '192.0.2.2'] },
    new: { kind: 'alias', hostedZoneId: 'Z35SXDOTRQ7X7K', dnsName: 'lb.example.net', evaluateTargetHealth: true },
  },
};

describe('normalizeRecordName', () => {
  it('ignores case, the trailing dot and octal escapes', () => {
    expect(normalizeRecordName('API.Example.com')).toBe('api.example.com');
    expect(normalizeRecordName('api.example.com.')).toBe('api.example.com');
    expect(normalizeRecordName('\\052.example.com.')).toBe('*.example.com');
  });
});

describe('upsertBoth', () => {
  it('sends both sides in one batch; alias records without TTL', () => {
    expect(upsertBoth(SETTINGS, { legacy: 90, new: 10 })).toEqual([
      {
        Action: 'UPSERT',
        ResourceRecordSet: {
          Name: 'API.Example.com',
          Type: 'A',
          SetIdentifier: 'legacy',
          Weight: 90,
          TTL: 30,
          ResourceRecords: [{ Value: '192.0.2.1' }, { Value: '192.0.2.2' }],
        },
      },
      {
        Action: 'UPSERT',
        ResourceRecordSet: {
          Name: 'API.Example.com',
          Type: 'A',
          SetIdentifier: 'new',
          Weight: 10,
          AliasTarget: { HostedZoneId: 'Z35SXDOTRQ7X7K', DNSName: 'lb.example.net', EvaluateTargetHealth: true },
        },
      },
    ]);
  });
});

describe('findSides and weightsOf', () => {
  const listing: ResourceRecordSet[] = [
    { Name: 'api.example.com.', Type: 'A', SetIdentifier: 'legacy', Weight: 75, TTL: 30, ResourceRecords: [{ Value: '192.0.2.1' }] },
    {
      Name: 'api.example.com.',
      Type: 'A',
      SetIdentifier: 'new',
      Weight: 25,
      AliasTarget: { HostedZoneId: 'Z1', DNSName: 'lb.', EvaluateTargetHealth: false },
    },
    { Name: 'api.example.com.', Type: 'AAAA', SetIdentifier: 'new', Weight: 99, TTL: 30, ResourceRecords: [{ Value: '2001:db8::1' }] },
    { Name: 'other.api.example.com.', Type: 'A', SetIdentifier: 'legacy', Weight: 1, TTL: 30, ResourceRecords: [{ Value: '192.0.2.9' }] },
  ];

  it('finds our two records by name, type and set identifier', () => {
    expect(weightsOf(findSides(listing, SETTINGS))).toEqual({ legacy: 75, new: 25 });
  });

  it('is null when either record is missing', () => {
    expect(weightsOf(findSides(listing.slice(1), SETTINGS))).toBeNull();
    expect(weightsOf(findSides([], SETTINGS))).toBeNull();
  });
});

describe('deleteShape', () => {
  it('deletes a record exactly as listed', () => {
    const record: ResourceRecordSet = {
      Name: 'api.example.com.',
      Type: 'A',
      SetIdentifier: 'legacy',
      Weight: 0,
      TTL: 30,
      ResourceRecords: [{ Value: '192.0.2.1' }],
    };
    expect(deleteShape(record)).toEqual({ Action: 'DELETE', ResourceRecordSet: record });
  });

  it('drops a TTL an emulator reported on an alias record', () => {
    const alias: ResourceRecordSet = {
      Name: 'api.example.com.',
      Type: 'A',
      SetIdentifier: 'legacy',
      Weight: 0,
      TTL: 0,
      AliasTarget: { HostedZoneId: 'Z1', DNSName: 'lb.', EvaluateTargetHealth: false },
    };
    expect(deleteShape(alias).ResourceRecordSet).not.toHaveProperty('TTL');
    expect(alias.TTL).toBe(0);
  });
});

describe('the fence record', () => {
  it('sits beside the weighted pair, a wildcard left out', () => {
    expect(fenceRecordName('API.Example.com')).toBe('_traffic-fence.API.Example.com');
    expect(fenceRecordName('*.example.com.')).toBe('_traffic-fence.example.com');
  });

  it('names the change that wrote it, read from a listing as Route 53 answers it', () => {
    const listed: ResourceRecordSet = {
      Name: '_traffic-fence.api.example.com.',
      Type: 'TXT',
      TTL: 300,
      ResourceRecords: [{ Value: '"traffic-change=42 nonce=00ff"' }],
    };
    expect(fenceOf([listed], 'API.Example.com')).toEqual({ changeId: 42, token: '"traffic-change=42 nonce=00ff"', record: listed });
    expect(fenceOf([{ ...listed, Type: 'A' }], 'API.Example.com')).toBeNull();
    expect(fenceOf([{ ...listed, ResourceRecords: [{ Value: '"by hand"' }] }], 'API.Example.com')).toMatchObject({ changeId: null });
  });

  it('is replaced by every batch: DELETE as read (nothing when there was none), CREATE anew with a fresh nonce', () => {
    const first = fenceChanges('api.example.com', null, 7);
    expect(first).toEqual([
      {
        Action: 'CREATE',
        ResourceRecordSet: {
          Name: '_traffic-fence.api.example.com',
          Type: 'TXT',
          TTL: 300,
          ResourceRecords: [{ Value: expect.stringMatching(/^"traffic-change=7 nonce=[0-9a-f]{16}"$/) }],
        },
      },
    ]);
    const read = fenceOf([first[0].ResourceRecordSet!], 'api.example.com')!;
    const next = fenceChanges('api.example.com', read, 8);
    expect(next[0]).toEqual({ Action: 'DELETE', ResourceRecordSet: first[0].ResourceRecordSet });
    expect(next[1].ResourceRecordSet!.ResourceRecords![0].Value).toMatch(/^"traffic-change=8 /);
    expect(fenceChanges('api.example.com', null, 7)[0].ResourceRecordSet!.ResourceRecords).not.toEqual(
      first[0].ResourceRecordSet!.ResourceRecords,
    );
  });
});
