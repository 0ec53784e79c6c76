import type { TrafficConfig } from '../../app-config';
import type { RecordSettings } from './record-sets';
import type { RetryPolicy } from './retry';
import { bareZoneId } from './route53-target';

export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/** A function rather than an object, so the keys never show up when a config object is printed or serialised. */
export type AwsCredentialsProvider = () => Promise<AwsCredentials>;

export interface Route53Settings extends RecordSettings {
  hostedZoneId: string;
  region: string;
  /** An endpoint override (moto, LocalStack); absent for AWS itself. */
  endpoint?: string;
  /** Absent: the SDK's default credential chain (environment, profile, instance or task role...). */
  credentials?: AwsCredentialsProvider;
  pollIntervalMs: number;
  syncTimeoutMs: number;
  retry: RetryPolicy;
}

export const ROUTE53_DEFAULTS = {
  region: 'us-east-1',
  recordType: 'A',
  ttl: 60,
  /** Route 53 usually reports INSYNC within 60 s. */
  pollIntervalMs: 5_000,
  syncTimeoutMs: 300_000,
  /** About 40 s of back-off in all before giving up: long enough for a PriorRequestNotComplete to clear. */
  retry: { baseMs: 250, capMs: 20_000, maxAttempts: 8 } satisfies RetryPolicy,
} as const;

/** The router's settings from the validated config (loadConfig has already refused a route53 config without them). */
export function route53SettingsFromConfig(traffic: TrafficConfig): Route53Settings {
  const missing = [
    traffic.hostedZoneId ? null : 'ROUTE53_HOSTED_ZONE_ID',
    traffic.recordName ? null : 'ROUTE53_RECORD_NAME',
    traffic.targets ? null : 'ROUTE53_LEGACY_TARGET / ROUTE53_NEW_TARGET',
  ].filter((m): m is string => m !== null);
  if (missing.length > 0) throw new Error(`TRAFFIC_PROVIDER=route53 needs ${missing.join(', ')}`);
  return {
    hostedZoneId: bareZoneId(traffic.hostedZoneId!),
    recordName: traffic.recordName!,
    recordType: traffic.recordType,
    ttl: traffic.ttl,
    targets: traffic.targets!,
    region: traffic.region,
    endpoint: traffic.endpoint,
    credentials: traffic.credentials,
    pollIntervalMs: traffic.pollIntervalMs,
    syncTimeoutMs: traffic.syncTimeoutMs,
    retry: traffic.retry,
  };
}
