/**
 * `canonicalHash`, made cheap enough to run on every record of both stores. The generic canonical JSON
 * sorts the keys of every object it meets; here the conversation and message objects, whose keys are
 * fixed, are written in their sorted order directly and only metadata goes through the generic sort.
 * The output is byte for byte `canonicalJson` (a property test holds it to that), so a record hash is
 * the canonical hash and can be compared with hashes computed anywhere else.
 */
import { createHash } from 'node:crypto';
import type { CanonicalConversation } from '../../model/canonical';
import { compareCodeUnits } from '../../model/json-value';

const q = JSON.stringify;

function stable(value: unknown): string {
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) out += (i === 0 ? '' : ',') + stable(value[i]);
    return `${out}]`;
  }
  if (value !== null && typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    const keys = Object.keys(obj).sort(compareCodeUnits);
    let out = '{';
    for (let i = 0; i < keys.length; i++) out += `${i === 0 ? '' : ','}${q(keys[i])}:${stable(obj[keys[i]])}`;
    return `${out}}`;
  }
  return q(value);
}

/** Equal to `canonicalJson(c)`: keys in code-unit order at every level, no whitespace. */
export function recordJson(c: CanonicalConversation): string {
  let out = `{"createdAt":${q(c.createdAt)},"deleted":${c.deleted ? 'true' : 'false'},"id":${q(c.id)},"messages":[`;
  for (let i = 0; i < c.messages.length; i++) {
    const m = c.messages[i];
    out += `${i === 0 ? '' : ','}{"content":${q(m.content)},"createdAt":${q(m.createdAt)},"role":${q(m.role)}}`;
  }
  return `${out}],"metadata":${stable(c.metadata)},"title":${q(c.title)},"updatedAt":${q(c.updatedAt)},"userId":${q(c.userId)},"version":${q(c.version)}}`;
}

/** Equal to `canonicalHash(c)`. */
export function recordHash(c: CanonicalConversation): string {
  return createHash('sha256').update(recordJson(c), 'utf8').digest('hex');
}
