/**
 * What one weighted record answers with: an alias (to a load balancer, CloudFront, another record...)
 * or plain record values. Written in the environment as one string per target:
 *
 *   alias:<hostedZoneId>:<dnsName>[:evaluate]   e.g. alias:Z35SXDOTRQ7X7K:old-lb-1.us-east-1.elb.amazonaws.com:evaluate
 *   <value>[,<value>...]                        e.g. 10.0.0.1,10.0.0.2 (A), 2001:db8::1 (AAAA), app.example.net (CNAME)
 *
 * `:evaluate` sets EvaluateTargetHealth. Alias records carry no TTL (Route 53 uses the target's).
 */
import { isIPv4, isIPv6 } from 'node:net';

export type RecordType = 'A' | 'AAAA' | 'CNAME';
export const RECORD_TYPES: readonly RecordType[] = ['A', 'AAAA', 'CNAME'];

export interface AliasTarget {
  kind: 'alias';
  hostedZoneId: string;
  dnsName: string;
  evaluateTargetHealth: boolean;
}

export interface ValuesTarget {
  kind: 'values';
  values: string[];
}

export type Route53Target = AliasTarget | ValuesTarget;

const ZONE_ID = /^[A-Za-z0-9]{1,32}$/;
const HOST_LABEL = /^(?!-)[A-Za-z0-9_-]{1,63}(?<!-)$/;
const MAX_VALUES = 100;

/** `example.com`, `example.com.`, `*.example.com`; letters, digits, `-` and `_` in labels. */
export function isDnsName(name: string): boolean {
  const bare = name.endsWith('.') ? name.slice(0, -1) : name;
  if (bare === '' || bare.length > 253) return false;
  return bare.split('.').every((label, i) => (i === 0 && label === '*') || HOST_LABEL.test(label));
}

/** `/hostedzone/Z123` and `Z123` name the same zone; the API wants the bare id. */
export function bareZoneId(id: string): string {
  return id.replace(/^\/?hostedzone\//i, '');
}

export function isZoneId(id: string): boolean {
  return ZONE_ID.test(bareZoneId(id));
}

/** Parses one target; a string result is the problem (without echoing more of the input than needed). */
export function parseTarget(text: string, recordType: RecordType): Route53Target | string {
  const raw = text.trim();
  if (/^alias:/i.test(raw)) return parseAlias(raw);
  const values = raw
    .split(',')
    .map((v) => v.trim())
    .filter((v) => v !== '');
  if (values.length === 0) return 'has no values (write comma-separated record values or alias:<hostedZoneId>:<dnsName>[:evaluate])';
  if (values.length > MAX_VALUES) return `has ${values.length} values, at most ${MAX_VALUES} are allowed`;
  if (new Set(values).size !== values.length) return 'lists a value twice';
  if (recordType === 'CNAME' && values.length !== 1) return 'a CNAME record takes exactly one value';
  for (const value of values) {
    const problem = valueProblem(value, recordType);
    if (problem) return problem;
  }
  return { kind: 'values', values };
}

function parseAlias(raw: string): Route53Target | string {
  const usage = 'must be alias:<hostedZoneId>:<dnsName>[:evaluate]';
  const parts = raw.split(':');
  if (parts.length < 3 || parts.length > 4) return usage;
  const [, zone, dnsName, flag] = parts;
  if (!isZoneId(zone)) return `alias hosted zone id "${zone}" is not a Route 53 zone id (letters and digits, e.g. Z35SXDOTRQ7X7K)`;
  if (!isDnsName(dnsName)) return `alias DNS name "${dnsName}" is not a valid DNS name`;
  if (flag !== undefined && flag.toLowerCase() !== 'evaluate') return `unknown alias flag "${flag}" (${usage})`;
  return { kind: 'alias', hostedZoneId: bareZoneId(zone), dnsName, evaluateTargetHealth: flag !== undefined };
}

function valueProblem(value: string, recordType: RecordType): string | null {
  switch (recordType) {
    case 'A':
      return isIPv4(value) ? null : `value "${value}" is not an IPv4 address (record type A)`;
    case 'AAAA':
      return isIPv6(value) ? null : `value "${value}" is not an IPv6 address (record type AAAA)`;
    case 'CNAME':
      return isDnsName(value) ? null : `value "${value}" is not a DNS name (record type CNAME)`;
  }
}

/** The inverse of `parseTarget`, for scripts that write the environment (the demo, tests). */
export function formatTarget(target: Route53Target): string {
  if (target.kind === 'values') return target.values.join(',');
  return `alias:${target.hostedZoneId}:${target.dnsName}${target.evaluateTargetHealth ? ':evaluate' : ''}`;
}
