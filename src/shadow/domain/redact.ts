/**
 * What a mismatch record may keep of a differing value: secrets masked (by the key names on the path or
 * inside the value, and values that look like credentials), long values cut to a bound. An absent side
 * stays absent (the key is left out of the stored JSON).
 */
import { isPlainObject } from '../../model/json-value';
import { parsePath } from './path-pattern';
import type { Difference } from './comparison';

export const MASK = '[masked]';

/** Words that mark a key as holding a credential; matched on the key with case and separators removed. */
const SECRET_WORDS = [
  'password',
  'passwd',
  'passphrase',
  'secret',
  'token',
  'apikey',
  'authorization',
  'credential',
  'privatekey',
  'accesskey',
  'sessionid',
  'cookie',
  'bearer',
  'signature',
];
const SECRET_EXACT = new Set(['pwd', 'auth', 'pin', 'otp', 'ssn', 'cvv']);
const SECRET_VALUE = [
  /^bearer\s+\S+/i,
  /^basic\s+[A-Za-z0-9+/=]{8,}$/i,
  /^eyJ[\w-]{4,}\.[\w-]{4,}\.[\w-]*$/,
  /^(sk|pk|rk)_(live|test)_\w{8,}/,
  /^AKIA[0-9A-Z]{16}$/,
  /-----BEGIN [A-Z ]*PRIVATE KEY-----/,
];

export function isSecretKey(key: string): boolean {
  const k = key.toLowerCase().replace(/[^a-z0-9]/g, '');
  return SECRET_EXACT.has(k) || SECRET_WORDS.some((w) => k.includes(w));
}

export function looksLikeSecret(value: string): boolean {
  return SECRET_VALUE.some((re) => re.test(value));
}

function pathHasSecretKey(path: string): boolean {
  try {
    return parsePath(path).some((s) => s.kind === 'key' && isSecretKey(s.key));
  } catch {
    return false;
  }
}

function mask(value: unknown): unknown {
  if (typeof value === 'string') return looksLikeSecret(value) ? MASK : value;
  if (Array.isArray(value)) return value.map(mask);
  if (isPlainObject(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value))
      Object.defineProperty(out, k, { value: isSecretKey(k) ? MASK : mask(v), enumerable: true, writable: true, configurable: true });
    return out;
  }
  return value;
}

function truncate(value: unknown, maxChars: number): unknown {
  if (typeof value === 'string') return value.length > maxChars ? `${value.slice(0, maxChars)}…[+${value.length - maxChars} chars]` : value;
  if (value !== null && typeof value === 'object') {
    const json = JSON.stringify(value);
    if (json.length > maxChars) return `${json.slice(0, maxChars)}…[+${json.length - maxChars} chars]`;
  }
  return value;
}

export function redactValue(path: string, value: unknown, maxChars: number): unknown {
  if (value === undefined) return undefined;
  if (pathHasSecretKey(path)) return MASK;
  return truncate(mask(value), maxChars);
}

export interface RecordedDifference {
  path: string;
  left?: unknown;
  right?: unknown;
}

export function redactDifference(d: Difference, maxChars: number): RecordedDifference {
  const out: RecordedDifference = { path: d.path };
  if (d.left !== undefined) out.left = redactValue(d.path, d.left, maxChars);
  if (d.right !== undefined) out.right = redactValue(d.path, d.right, maxChars);
  return out;
}
