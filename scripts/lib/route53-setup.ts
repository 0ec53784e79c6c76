/**
 * A hosted zone with the two weighted records (legacy 100, new 0), in the Route 53 emulator (moto) or
 * any Route 53 endpoint, for the demo and the tests. Every call makes a new zone (unique
 * CallerReference), so runs never share records. Returns the zone id, the router's settings and the
 * environment variables that configure the service for it.
 */
import { randomUUID } from 'node:crypto';
import {
  ChangeResourceRecordSetsCommand,
  CreateHostedZoneCommand,
  DeleteHostedZoneCommand,
  ListResourceRecordSetsCommand,
  Route53Client,
} from '@aws-sdk/client-route-53';
import type { Weights } from '../../src/traffic/traffic-router.port';
import { upsertBoth } from '../../src/traffic/route53/record-sets';
import type { AwsCredentials } from '../../src/config/aws-credentials';
import { ROUTE53_DEFAULTS, Route53Settings } from '../../src/traffic/route53/route53-settings';
import { bareZoneId, formatTarget, RecordType, Route53Target } from '../../src/traffic/route53/route53-target';

export interface Route53SetupOptions {
  endpoint?: string;
  region?: string;
  /** Absent: the SDK's default chain (AWS_ACCESS_KEY_ID... in the process environment). */
  credentials?: AwsCredentials;
  /** The weighted records' name, e.g. api.demo.example.com. */
  recordName: string;
  /** Default: the record name without its first label. */
  zoneName?: string;
  recordType?: RecordType;
  ttl?: number;
  /** Default: plain A records, legacy 192.0.2.10 and new 192.0.2.20 (TEST-NET-1 addresses). */
  targets?: { legacy: Route53Target; new: Route53Target };
  /** Default: legacy 100, new 0 (everything on legacy, as before a migration). */
  weights?: Weights;
}

export interface Route53Setup {
  hostedZoneId: string;
  zoneName: string;
  settings: Route53Settings;
  /** TRAFFIC_PROVIDER, ROUTE53_* and AWS_ENDPOINT_URL / AWS_REGION for this zone (no credentials). */
  env: Record<string, string>;
}

export const DEFAULT_TARGETS: { legacy: Route53Target; new: Route53Target } = {
  legacy: { kind: 'values', values: ['192.0.2.10'] },
  new: { kind: 'values', values: ['192.0.2.20'] },
};

function clientFor(options: Pick<Route53SetupOptions, 'endpoint' | 'region' | 'credentials'>): Route53Client {
  return new Route53Client({
    region: options.region ?? ROUTE53_DEFAULTS.region,
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    ...(options.credentials ? { credentials: options.credentials } : {}),
  });
}

export async function createRoute53Zone(options: Route53SetupOptions): Promise<Route53Setup> {
  const recordName = options.recordName.replace(/\.$/, '');
  const zoneName = (options.zoneName ?? recordName.split('.').slice(1).join('.')).replace(/\.$/, '');
  if (!zoneName || !`.${recordName}`.endsWith(`.${zoneName}`))
    throw new Error(`record ${recordName} is not inside zone ${zoneName || '(none)'}`);
  const client = clientFor(options);
  try {
    const created = await client.send(
      new CreateHostedZoneCommand({
        Name: zoneName,
        CallerReference: `lms-${Date.now()}-${randomUUID()}`,
        HostedZoneConfig: { Comment: 'legacy-migration-service traffic records' },
      }),
    );
    const hostedZoneId = bareZoneId(created.HostedZone!.Id!);
    const settings: Route53Settings = {
      hostedZoneId,
      recordName,
      recordType: options.recordType ?? 'A',
      ttl: options.ttl ?? ROUTE53_DEFAULTS.ttl,
      targets: options.targets ?? DEFAULT_TARGETS,
      region: options.region ?? ROUTE53_DEFAULTS.region,
      endpoint: options.endpoint,
      credentials: options.credentials ? async () => options.credentials! : undefined,
      pollIntervalMs: ROUTE53_DEFAULTS.pollIntervalMs,
      syncTimeoutMs: ROUTE53_DEFAULTS.syncTimeoutMs,
      retry: { ...ROUTE53_DEFAULTS.retry },
    };
    await client.send(
      new ChangeResourceRecordSetsCommand({
        HostedZoneId: hostedZoneId,
        ChangeBatch: { Comment: 'initial weights', Changes: upsertBoth(settings, options.weights ?? { legacy: 100, new: 0 }) },
      }),
    );
    const env: Record<string, string> = {
      TRAFFIC_PROVIDER: 'route53',
      AWS_REGION: settings.region,
      ROUTE53_HOSTED_ZONE_ID: hostedZoneId,
      ROUTE53_RECORD_NAME: recordName,
      ROUTE53_RECORD_TYPE: settings.recordType,
      ROUTE53_TTL: String(settings.ttl),
      ROUTE53_LEGACY_TARGET: formatTarget(settings.targets.legacy),
      ROUTE53_NEW_TARGET: formatTarget(settings.targets.new),
      ...(options.endpoint ? { AWS_ENDPOINT_URL: options.endpoint } : {}),
    };
    return { hostedZoneId, zoneName, settings, env };
  } finally {
    client.destroy();
  }
}

/** What the demo calls: a zone for its record, everything on legacy. */
export const createDemoRoute53 = createRoute53Zone;

/** Best effort: removes the zone's records (but NS and SOA) and the zone. */
export async function deleteRoute53Zone(
  setup: Pick<Route53Setup, 'hostedZoneId'> & Pick<Route53SetupOptions, 'endpoint' | 'region' | 'credentials'>,
): Promise<void> {
  const client = clientFor(setup);
  try {
    const listed = await client.send(new ListResourceRecordSetsCommand({ HostedZoneId: setup.hostedZoneId }));
    const records = (listed.ResourceRecordSets ?? []).filter((r) => r.Type !== 'NS' && r.Type !== 'SOA');
    if (records.length > 0) {
      await client.send(
        new ChangeResourceRecordSetsCommand({
          HostedZoneId: setup.hostedZoneId,
          ChangeBatch: {
            Changes: records.map((r) => ({ Action: 'DELETE', ResourceRecordSet: r.AliasTarget ? { ...r, TTL: undefined } : r })),
          },
        }),
      );
    }
    await client.send(new DeleteHostedZoneCommand({ Id: setup.hostedZoneId }));
  } catch {
    // Leftover zones in an emulator harm nothing: every run makes its own.
  } finally {
    client.destroy();
  }
}
