import { Route53Client } from '@aws-sdk/client-route-53';
import type { Route53Settings } from './route53-settings';

/**
 * The SDK client. Its own retries are off (`maxAttempts: 1`): the router retries throttling and
 * PriorRequestNotComplete itself, with its own policy, so one knob governs how long a change may take.
 */
export function createRoute53Client(settings: Pick<Route53Settings, 'region' | 'endpoint' | 'credentials'>): Route53Client {
  return new Route53Client({
    region: settings.region,
    ...(settings.endpoint ? { endpoint: settings.endpoint } : {}),
    ...(settings.credentials ? { credentials: settings.credentials } : {}),
    maxAttempts: 1,
  });
}
