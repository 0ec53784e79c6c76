import type { AwsCredentialsProvider } from '../../config/aws-credentials';
import type { RecordSettings } from './record-sets';
import type { RetryPolicy } from './retry';

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
