/**
 * fast-check arbitraries shared by the unit specs and the integration tests (PostgreSQL and legacy-store
 * round trips). Generated conversations pass every API limit and hold only what both stores keep exactly:
 * unicode of all kinds (emoji sequences, CJK, combining marks, astral and control characters) but no NUL or
 * lone surrogate, timestamps in whole milliseconds within 1970..2100, and, in a share of the cases, the
 * maximal sizes (title of 500 characters, content of 64 KiB, metadata near 16 KiB and 8 levels deep).
 */
import fc from 'fast-check';
import { Conversation, JsonObject, JsonValue, MESSAGE_ROLES, Message } from '../conversation.model';
import { checkMetadata, LIMITS, metadataKeyProblem } from '../limits';

const TRICKY = [
  '😀',
  '👩‍👩‍👧‍👦',
  '🇫🇷',
  '👍🏽',
  '中文',
  '日本語',
  '한국어',
  'e\u0301',
  'a\u0308\u0323',
  '𝔘',
  '\u{10FFFF}',
  '\u200b',
  '\ufeff',
  '\ufffd',
  '\u0001',
  '\u007f',
  ' ',
  '"',
  '\\',
  '\n',
  '\t',
  '/',
  '<',
  '$',
  '.',
  'ß',
];

/** One code point or a tricky sequence; never NUL, never half a surrogate pair. */
const unit = fc.oneof(
  fc.constantFrom(...TRICKY),
  fc.fullUnicode().filter((ch) => ch !== '\u0000'),
);

export const MIN_DATE_MS = Date.UTC(1970, 0, 1);
export const MAX_DATE_MS = Date.UTC(2100, 11, 31, 23, 59, 59, 999);

export function arbDate(): fc.Arbitrary<Date> {
  return fc.integer({ min: MIN_DATE_MS, max: MAX_DATE_MS }).map((ms) => new Date(ms));
}

/** Storable text of at most `maxChars` code points. */
export function arbText(maxChars: number, minChars = 0): fc.Arbitrary<string> {
  return fc
    .string({ unit, minLength: minChars, maxLength: Math.min(maxChars, 24) })
    .map((s) => Array.from(s).slice(0, maxChars).join(''))
    .filter((s) => Array.from(s).length >= minChars);
}

/** `seed` repeated to exactly `bytes` UTF-8 bytes (topped up with "x" where a code point would not fit). */
export function fillToBytes(seed: string, bytes: number): string {
  const points = Array.from(seed.length > 0 ? seed : 'x');
  const parts: string[] = [];
  let size = 0;
  for (let i = 0; ; i++) {
    const p = points[i % points.length];
    const n = Buffer.byteLength(p, 'utf8');
    if (size + n > bytes) break;
    parts.push(p);
    size += n;
  }
  return parts.join('') + 'x'.repeat(bytes - size);
}

function exactChars(seed: string, chars: number): string {
  const points = Array.from(seed.length > 0 ? seed : 'x');
  return Array.from({ length: chars }, (_, i) => points[i % points.length]).join('');
}

const seed = arbText(12, 1);

const arbUserId = fc.oneof(
  { weight: 9, arbitrary: arbText(LIMITS.userIdMaxChars, 1) },
  { weight: 1, arbitrary: seed.map((s) => exactChars(s, LIMITS.userIdMaxChars)) },
);

const arbTitle = fc.oneof(
  { weight: 3, arbitrary: fc.constant(null) },
  { weight: 6, arbitrary: arbText(LIMITS.titleMaxChars) },
  { weight: 1, arbitrary: seed.map((s) => exactChars(s, LIMITS.titleMaxChars)) },
);

const arbContent = fc.oneof(
  { weight: 8, arbitrary: arbText(200) },
  { weight: 1, arbitrary: fc.constant('') },
  { weight: 1, arbitrary: seed.map((s) => fillToBytes(s, LIMITS.contentMaxBytes)) },
);

const arbMessage: fc.Arbitrary<Message> = fc.record({
  role: fc.constantFrom(...MESSAGE_ROLES),
  content: arbContent,
  createdAt: arbDate(),
});

const arbKey = arbText(10).filter((k) => metadataKeyProblem(k) === null);

const arbLeaf: fc.Arbitrary<JsonValue> = fc.oneof(
  arbText(20),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.boolean(),
  fc.constant(null),
);

/** Metadata objects count as level 1, so nested values get at most 7 more container levels. */
const { value: arbJson } = fc.letrec<{ value: JsonValue }>((tie) => ({
  value: fc.oneof(
    { maxDepth: LIMITS.metadataMaxDepth - 1, depthSize: 'small' },
    arbLeaf,
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(arbKey, tie('value'), { maxKeys: 4 }),
  ),
}));

/** A chain of containers exactly 8 levels deep, padded to just under the 16 KiB limit. */
const arbMaximalMetadata: fc.Arbitrary<JsonObject> = fc
  .tuple(fc.array(fc.tuple(arbKey, fc.boolean()), { minLength: 7, maxLength: 7 }), arbKey, seed, fc.nat(64))
  .map(([levels, topKey, filler, slack]) => {
    const build = (leaf: string): JsonObject => {
      let inner: JsonValue = leaf;
      for (const [key, asArray] of levels) inner = asArray ? [inner] : { [key]: inner };
      return { [topKey]: inner };
    };
    const escapedFree = Array.from(filler)
      .filter((ch) => JSON.stringify(ch).length === ch.length + 2)
      .join('');
    const base = Buffer.byteLength(JSON.stringify(build('')), 'utf8');
    return build(fillToBytes(escapedFree, LIMITS.metadataMaxBytes - slack - base));
  });

export function arbMetadata(): fc.Arbitrary<JsonObject> {
  return fc
    .oneof(
      { weight: 2, arbitrary: fc.constant({}) },
      { weight: 7, arbitrary: fc.dictionary(arbKey, arbJson, { maxKeys: 6 }) },
      { weight: 1, arbitrary: arbMaximalMetadata },
    )
    .filter((m) => checkMetadata(m).length === 0);
}

export function arbId(): fc.Arbitrary<string> {
  return fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: 24, maxLength: 24 });
}

export function arbConversation(options: { maxMessages?: number } = {}): fc.Arbitrary<Conversation> {
  return fc.record({
    id: arbId(),
    userId: arbUserId,
    title: arbTitle,
    messages: fc.array(arbMessage, { maxLength: options.maxMessages ?? 6 }),
    metadata: arbMetadata(),
    createdAt: arbDate(),
    updatedAt: arbDate(),
    version: fc.oneof(fc.nat(1000), fc.constant(Number.MAX_SAFE_INTEGER), fc.maxSafeNat()),
    deleted: fc.boolean(),
  });
}
