/** The traffic section (AppConfig `traffic`): the router (`none` or Route 53), its records, polling and retries. */
import { AwsCredentialsProvider, readAwsCredentials } from '../config/aws-credentials';
import type { EnvReader } from '../config/env-reader';
import type { RetryPolicy } from './route53/retry';
import { ROUTE53_DEFAULTS, Route53Settings } from './route53/route53-settings';
import { bareZoneId, isDnsName, isZoneId, parseTarget, RECORD_TYPES, RecordType, Route53Target } from './route53/route53-target';

export interface TrafficConfig {
  provider: 'none' | 'route53';
  region: string;
  endpoint?: string;
  /** From AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (/ AWS_SESSION_TOKEN) when set; else the SDK's default chain. */
  credentials?: AwsCredentialsProvider;
  hostedZoneId?: string;
  recordName?: string;
  recordType: RecordType;
  /** For plain-value records; alias records take the target's TTL. */
  ttl: number;
  /** What each weighted record answers with (required for route53). */
  targets?: { legacy: Route53Target; new: Route53Target };
  pollIntervalMs: number;
  syncTimeoutMs: number;
  retry: RetryPolicy;
}

export const TRAFFIC_CONFIG = Symbol('TRAFFIC_CONFIG');

export function readTrafficConfig(r: EnvReader): TrafficConfig {
  const provider = r.oneOf('TRAFFIC_PROVIDER', ['none', 'route53'] as const, 'none');
  const d = ROUTE53_DEFAULTS;
  const recordType = r.oneOf('ROUTE53_RECORD_TYPE', RECORD_TYPES, d.recordType);
  const hostedZoneId = r.optionalString('ROUTE53_HOSTED_ZONE_ID');
  const recordName = r.optionalString('ROUTE53_RECORD_NAME');
  const legacyTarget = readTarget(r, 'ROUTE53_LEGACY_TARGET', recordType);
  const newTarget = readTarget(r, 'ROUTE53_NEW_TARGET', recordType);
  const traffic: TrafficConfig = {
    provider,
    region: r.string('AWS_REGION', d.region),
    endpoint: r.has('AWS_ENDPOINT_URL') ? r.url('AWS_ENDPOINT_URL', ['http', 'https']) : undefined,
    credentials: provider === 'route53' ? readAwsCredentials(r) : undefined,
    hostedZoneId: hostedZoneId === undefined ? undefined : bareZoneId(hostedZoneId),
    recordName,
    recordType,
    ttl: r.int('ROUTE53_TTL', d.ttl, 0, 172800),
    targets: legacyTarget && newTarget ? { legacy: legacyTarget, new: newTarget } : undefined,
    pollIntervalMs: r.int('ROUTE53_POLL_MS', d.pollIntervalMs, 1, 600_000),
    syncTimeoutMs: r.int('ROUTE53_SYNC_TIMEOUT_MS', d.syncTimeoutMs, 1, 86_400_000),
    retry: {
      baseMs: r.int('ROUTE53_RETRY_BASE_MS', d.retry.baseMs, 1, 600_000),
      capMs: r.int('ROUTE53_RETRY_MAX_MS', d.retry.capMs, 1, 3_600_000),
      maxAttempts: r.int('ROUTE53_RETRY_ATTEMPTS', d.retry.maxAttempts, 1, 100),
    },
  };
  if (hostedZoneId !== undefined && !isZoneId(hostedZoneId)) {
    r.problem(
      'ROUTE53_HOSTED_ZONE_ID',
      `"${hostedZoneId}" is not a Route 53 hosted zone id (letters and digits, e.g. Z0123456789ABCDEFGHIJ)`,
    );
  }
  if (recordName !== undefined && !isDnsName(recordName)) r.problem('ROUTE53_RECORD_NAME', `"${recordName}" is not a valid DNS name`);
  if (traffic.retry.capMs < traffic.retry.baseMs)
    r.problem('ROUTE53_RETRY_MAX_MS', `must be at least ROUTE53_RETRY_BASE_MS (${traffic.retry.baseMs})`);
  if (provider === 'route53') {
    const required = 'is required when TRAFFIC_PROVIDER=route53';
    if (!hostedZoneId) r.problem('ROUTE53_HOSTED_ZONE_ID', required);
    if (!recordName) r.problem('ROUTE53_RECORD_NAME', required);
    for (const name of ['ROUTE53_LEGACY_TARGET', 'ROUTE53_NEW_TARGET']) {
      if (!r.has(name)) r.problem(name, `${required} (alias:<hostedZoneId>:<dnsName>[:evaluate] or comma-separated record values)`);
    }
  }
  return traffic;
}

function readTarget(r: EnvReader, variable: string, recordType: RecordType): Route53Target | undefined {
  const text = r.optionalString(variable);
  if (text === undefined) return undefined;
  const parsed = parseTarget(text, recordType);
  if (typeof parsed === 'string') {
    r.problem(variable, parsed);
    return undefined;
  }
  return parsed;
}

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
