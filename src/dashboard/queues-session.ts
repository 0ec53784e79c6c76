/**
 * The cookie that lets a browser open the /queues board, which a plain navigation cannot send a bearer
 * header to. An operator's dashboard POSTs its bearer token to /dashboard/queues-session and gets this
 * cookie back: HttpOnly (page scripts never see it), SameSite=Strict (no other site can make the
 * browser send it), Path=/queues (sent nowhere else), valid for QUEUES_SESSION_TTL_MS.
 *
 * It is stateless, so every API replica accepts it: `v1.<expiry ms>.<token name, base64url>.<mac>`, the
 * MAC an HMAC-SHA256 of the rest under a key derived from the operator token that minted it. So it holds
 * no secret, cannot be forged or extended without that token, and dies with the token when the token is
 * removed from OPERATOR_API_TOKENS. Pure: no I/O.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { ApiToken } from '../common/auth/auth.config';

export const QUEUES_SESSION_COOKIE = 'lms_queues';
export const QUEUES_SESSION_PATH = '/queues';
export const QUEUES_SESSION_TTL_MS = 15 * 60 * 1000;

const VERSION = 'v1';

interface Key {
  name: string;
  key: Buffer;
}

const mac = (key: Buffer, payload: string) => createHmac('sha256', key).update(payload, 'utf8').digest();

export class QueuesSessions {
  private readonly keys: Key[];

  constructor(
    tokens: readonly ApiToken[],
    private readonly ttlMs = QUEUES_SESSION_TTL_MS,
  ) {
    this.keys = tokens
      .filter((t) => t.role === 'operator')
      .map((t) => ({ name: t.name, key: createHmac('sha256', t.token).update('lms /queues session v1', 'utf8').digest() }));
  }

  /** A cookie value for the operator token named `name` (which must be configured). */
  mint(name: string, now = Date.now()): { value: string; expiresAt: number } {
    const key = this.keys.find((k) => k.name === name);
    if (!key) throw new Error(`no operator token named ${name}`);
    const expiresAt = now + this.ttlMs;
    const payload = `${VERSION}.${expiresAt}.${Buffer.from(name, 'utf8').toString('base64url')}`;
    return { value: `${payload}.${mac(key.key, payload).toString('base64url')}`, expiresAt };
  }

  /** The operator a cookie value was minted for, or null when it is malformed, forged or expired. */
  verify(value: string | undefined, now = Date.now()): { name: string } | null {
    if (!value || value.length > 512) return null;
    const match = /^v1\.(\d{1,15})\.([A-Za-z0-9_-]{0,200})\.([A-Za-z0-9_-]{43})$/.exec(value);
    if (!match) return null;
    const expiresAt = Number(match[1]);
    if (expiresAt <= now || expiresAt > now + this.ttlMs) return null;
    const name = Buffer.from(match[2], 'base64url').toString('utf8');
    const presented = Buffer.from(match[3], 'base64url');
    const payload = value.slice(0, value.length - match[3].length - 1);
    let found: string | null = null;
    // Every key is checked, so the time taken does not tell which token minted it.
    for (const k of this.keys) {
      if (timingSafeEqual(mac(k.key, payload), presented) && k.name === name) found ??= k.name;
    }
    return found ? { name: found } : null;
  }
}

/** One cookie's value out of a `Cookie` header (no dependency for one name). */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}
