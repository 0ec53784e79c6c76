/**
 * The Route 53 emulator (moto_server) started by `npm run services:up`: its endpoint comes from
 * AWS_ENDPOINT_URL (or MOTO_PORT) in the environment or .env.local, with moto's dummy credentials.
 */
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import { ListResourceRecordSetsCommand, Route53Client } from '@aws-sdk/client-route-53';
import { createRoute53Zone, deleteRoute53Zone, Route53Setup, Route53SetupOptions } from '../../scripts/lib/route53-setup';
import { environmentWithEnvFile } from '../../src/config/env-file';
import type { AwsCredentials } from '../../src/config/aws-credentials';
import { ROOT } from './env';

export interface MotoConnection {
  endpoint: string;
  region: string;
  credentials: AwsCredentials;
}

export function moto(): MotoConnection {
  const env = environmentWithEnvFile(process.env, path.join(ROOT, '.env.local'));
  const endpoint = env.AWS_ENDPOINT_URL ?? (env.MOTO_PORT ? `http://127.0.0.1:${env.MOTO_PORT}` : undefined);
  if (!endpoint) throw new Error('AWS_ENDPOINT_URL (or MOTO_PORT) is not set: run `npm run services:up` (npm test does it for you)');
  return {
    endpoint,
    region: env.AWS_REGION ?? 'us-east-1',
    credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID ?? 'testing', secretAccessKey: env.AWS_SECRET_ACCESS_KEY ?? 'testing' },
  };
}

/** A plain SDK client on moto, with the SDK's defaults: the independent observer tests read back through. */
export function motoClient(): Route53Client {
  const m = moto();
  return new Route53Client({ endpoint: m.endpoint, region: m.region, credentials: m.credentials });
}

/** A client as the router builds one (no SDK retries), to attach a fault layer to. */
export function motoRouterClient(): Route53Client {
  const m = moto();
  return new Route53Client({ endpoint: m.endpoint, region: m.region, credentials: m.credentials, maxAttempts: 1 });
}

/** A fresh zone of this test's own, `app.<random>.test` with legacy 100 / new 0, unless told otherwise. */
export async function motoZone(options: Partial<Route53SetupOptions> = {}): Promise<Route53Setup> {
  const label = `lms-${randomBytes(5).toString('hex')}.test`;
  return createRoute53Zone({ ...moto(), recordName: `app.${label}`, ...options });
}

export async function dropMotoZone(setup: Route53Setup): Promise<void> {
  await deleteRoute53Zone({ ...moto(), hostedZoneId: setup.hostedZoneId });
}

/** The weights of the zone's two weighted records as `observer` lists them (undefined for a side that is absent). */
export async function servedWeights(observer: Route53Client, zone: Route53Setup): Promise<{ legacy?: number; new?: number }> {
  const out = await observer.send(new ListResourceRecordSetsCommand({ HostedZoneId: zone.hostedZoneId }));
  const name = zone.settings.recordName.replace(/\.$/, '').toLowerCase();
  const of = (id: string) =>
    out.ResourceRecordSets?.find((r) => r.SetIdentifier === id && r.Name!.replace(/\.$/, '').toLowerCase() === name)?.Weight;
  return { legacy: of('legacy'), new: of('new') };
}
