import fc from 'fast-check';
import { Conversation } from './conversation.model';
import { UnreadableDocumentError } from './errors';
import { fromLegacy, toLegacy } from './legacy-transform';
import { arbConversation } from './testing/arbitraries';
import { expectSameCanonical } from './testing/canonical-assert';
import { SAMPLE_ID } from './testing/fixtures';
import { arbWildLegacyCase } from './testing/legacy-arbitraries';

const TS = new Date('2021-03-04T05:06:07.123Z');
const CREATED = new Date('2021-03-04T05:00:00.000Z');
const UPDATED = new Date('2021-03-05T00:00:00.000Z');

/** A document in the current format; each test changes one thing. */
function doc(changes: Record<string, unknown> = {}): Record<string, unknown> {
  const base: Record<string, unknown> = {
    _id: SAMPLE_ID,
    user_id: 'user-1',
    title: 'Hello',
    messages: [{ role: 'user', text: 'hi', ts: TS }],
    meta: { source: 'web' },
    created: CREATED,
    updated: UPDATED,
    v: 3,
  };
  for (const [key, value] of Object.entries(changes)) {
    if (value === undefined) delete base[key];
    else base[key] = value;
  }
  return base;
}

function message(changes: Record<string, unknown>): Record<string, unknown> {
  return doc({
    messages: [
      { role: 'user', text: 'hi', ts: TS },
      { role: 'assistant', text: 'yo', ts: TS, ...changes },
    ],
  });
}

function messageWithout(field: string): Record<string, unknown> {
  const m: Record<string, unknown> = { role: 'assistant', text: 'yo', ts: TS };
  delete m[field];
  return doc({ messages: [m] });
}

function readError(input: unknown): UnreadableDocumentError {
  try {
    fromLegacy(input as Record<string, unknown>);
  } catch (e) {
    if (e instanceof UnreadableDocumentError) return e;
    throw e;
  }
  throw new Error('expected the document to be unreadable');
}

describe('fromLegacy: the current format', () => {
  it('maps every field', () => {
    expect(fromLegacy(doc())).toEqual<Conversation>({
      id: SAMPLE_ID,
      userId: 'user-1',
      title: 'Hello',
      messages: [{ role: 'user', content: 'hi', createdAt: TS }],
      metadata: { source: 'web' },
      createdAt: CREATED,
      updatedAt: UPDATED,
      version: 3,
      deleted: false,
    });
  });

  it('reads an ObjectId through toHexString', () => {
    expect(fromLegacy(doc({ _id: { toHexString: () => SAMPLE_ID } })).id).toBe(SAMPLE_ID);
  });

  it('copies metadata instead of sharing it with the raw document', () => {
    const raw = doc({ meta: { nested: { a: 1 } } });
    const c = fromLegacy(raw);
    (raw.meta as { nested: { a: number } }).nested.a = 2;
    expect(c.metadata).toEqual({ nested: { a: 1 } });
  });

  it('keeps metadata keys the API would refuse, including an own __proto__ key, without touching prototypes', () => {
    const meta = JSON.parse('{"$set": 1, "a.b": 2, "__proto__": {"polluted": true}}');
    const c = fromLegacy(doc({ meta }));
    expect(Object.keys(c.metadata)).toEqual(['$set', 'a.b', '__proto__']);
    expect(Object.getPrototypeOf(c.metadata)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('accepts empty message text', () => {
    expect(fromLegacy(message({ text: '' })).messages[1].content).toBe('');
  });
});

describe('fromLegacy: legacy variations, one at a time', () => {
  it('older userId instead of user_id', () => {
    expect(fromLegacy(doc({ user_id: undefined, userId: 'old-user' })).userId).toBe('old-user');
  });

  it('both user_id and userId when they agree', () => {
    expect(fromLegacy(doc({ userId: 'user-1' })).userId).toBe('user-1');
  });

  it.each(['USER', 'ASSISTANT', 'SYSTEM', 'TOOL', 'Tool'])('upper-case role %s', (role) => {
    expect(fromLegacy(message({ role })).messages[1].role).toBe(role.toLowerCase());
  });

  it('older content instead of text', () => {
    const c = fromLegacy(message({ text: undefined, content: 'from content' }));
    expect(c.messages[1].content).toBe('from content');
  });

  it('both text and content when they agree', () => {
    expect(fromLegacy(message({ content: 'yo' })).messages[1].content).toBe('yo');
  });

  it.each<[string, unknown]>([
    ['a Date', new Date('2021-03-04T05:06:07.123Z')],
    ['an ISO string in UTC', '2021-03-04T05:06:07.123Z'],
    ['an ISO string with an offset', '2021-03-04T07:36:07.123+02:30'],
    ['an ISO string with microsecond zeros', '2021-03-04T05:06:07.123000Z'],
    ['epoch milliseconds', Date.UTC(2021, 2, 4, 5, 6, 7, 123)],
  ])('ts as %s maps to the same millisecond', (_, ts) => {
    expect(fromLegacy(message({ ts })).messages[1].createdAt.toISOString()).toBe('2021-03-04T05:06:07.123Z');
  });

  it('created as an ISO string', () => {
    expect(fromLegacy(doc({ created: '2021-03-04T05:00:00Z' })).createdAt).toEqual(CREATED);
  });

  it('meta missing becomes {}', () => {
    expect(fromLegacy(doc({ meta: undefined })).metadata).toEqual({});
  });

  it('title missing becomes null', () => {
    expect(fromLegacy(doc({ title: undefined })).title).toBeNull();
  });

  it('title null stays null', () => {
    expect(fromLegacy(doc({ title: null })).title).toBeNull();
  });

  it('messages missing becomes []', () => {
    expect(fromLegacy(doc({ messages: undefined })).messages).toEqual([]);
  });

  it('updated missing means updatedAt = created', () => {
    expect(fromLegacy(doc({ updated: undefined })).updatedAt).toEqual(CREATED);
  });

  it('v missing means version 0', () => {
    expect(fromLegacy(doc({ v: undefined })).version).toBe(0);
  });

  it('deleted true is a soft delete; missing is not', () => {
    expect(fromLegacy(doc({ deleted: true })).deleted).toBe(true);
    expect(fromLegacy(doc()).deleted).toBe(false);
  });
});

describe('fromLegacy: unreadable documents name the field and never guess', () => {
  it.each<[string, Record<string, unknown>, string]>([
    ['no user id', doc({ user_id: undefined }), 'user_id: missing (and no legacy userId)'],
    ['an empty user id', doc({ user_id: '' }), 'user_id: expected a non-empty string, got ""'],
    ['a user id that is not a string', doc({ user_id: 42 }), 'user_id: expected a non-empty string, got number 42'],
    ['user_id and userId disagreeing', doc({ userId: 'other' }), 'user_id: conflicts with legacy userId "other"'],
    ['a message without text', messageWithout('text'), 'messages[0].text: missing (and no legacy content)'],
    ['a message with null text', message({ text: null }), 'messages[1].text: expected a string, got null'],
    ['text and content disagreeing', message({ content: 'other' }), 'messages[1].text: conflicts with legacy content'],
    ['an unparsable date', message({ ts: 'yesterday' }), 'messages[1].ts: unparsable date "yesterday"'],
    ['a date without offset', message({ ts: '2021-03-04T05:06:07' }), 'messages[1].ts: unparsable date "2021-03-04T05:06:07"'],
    ['a non-ISO date', message({ ts: 'Thu, 04 Mar 2021 05:06:07 GMT' }), 'messages[1].ts: unparsable date "Thu, 04 Mar 2021 05:06:07 GMT"'],
    [
      'a day that does not exist',
      message({ ts: '2021-02-30T00:00:00Z' }),
      'messages[1].ts: unparsable date (no such calendar time) "2021-02-30T00:00:00Z"',
    ],
    [
      'sub-millisecond digits',
      message({ ts: '2021-03-04T05:06:07.1234Z' }),
      'messages[1].ts: sub-millisecond precision in date "2021-03-04T05:06:07.1234Z"',
    ],
    ['fractional epoch milliseconds', message({ ts: 1.5 }), 'messages[1].ts: sub-millisecond precision in epoch milliseconds number 1.5'],
    ['a NaN timestamp', message({ ts: NaN }), 'messages[1].ts: epoch milliseconds not finite number NaN'],
    ['an Invalid Date', message({ ts: new Date('nope') }), 'messages[1].ts: Invalid Date'],
    ['a message without ts', messageWithout('ts'), 'messages[0].ts: missing'],
    ['a bad role', message({ role: 'robot' }), 'messages[1].role: unknown role "robot"'],
    ['a message without role', messageWithout('role'), 'messages[0].role: missing'],
    ['a message that is not an object', doc({ messages: ['hi'] }), 'messages[0]: expected an object, got "hi"'],
    ['messages that are not an array', doc({ messages: { 0: 'hi' } }), 'messages: expected an array, got an object'],
    ['an unknown message field', message({ author: 'x' }), 'messages[1].author: unknown field'],
    ['a NUL in the title', doc({ title: 'a\u0000b' }), 'title: contains a NUL character at index 1'],
    ['a NUL in the user id', doc({ user_id: '\u0000' }), 'user_id: contains a NUL character at index 0'],
    ['a NUL in a message', message({ text: 'yo\u0000' }), 'messages[1].text: contains a NUL character at index 2'],
    ['a NUL in a metadata key', doc({ meta: { a: { 'k\u0000': 1 } } }), 'meta.a["k\\u0000"]: key contains a NUL character at index 1'],
    ['a NUL in a nested metadata value', doc({ meta: { a: [1, 'x\u0000'] } }), 'meta.a[1]: contains a NUL character at index 1'],
    ['a lone surrogate in a title', doc({ title: 'ok\ud83d' }), 'title: contains a lone UTF-16 surrogate at index 2'],
    ['a lone surrogate in content', message({ text: '\ude00!' }), 'messages[1].text: contains a lone UTF-16 surrogate at index 0'],
    ['a title that is not a string', doc({ title: 7 }), 'title: expected a string or null, got number 7'],
    ['meta that is an array', doc({ meta: [1] }), 'meta: expected an object, got an array'],
    ['meta that is null', doc({ meta: null }), 'meta: expected an object, got null'],
    ['a Date inside meta', doc({ meta: { when: new Date(0) } }), 'meta.when: not a JSON value: Date(1970-01-01T00:00:00.000Z)'],
    ['NaN inside meta', doc({ meta: { n: NaN } }), 'meta.n: not a finite number: number NaN'],
    ['created missing', doc({ created: undefined }), 'created: missing'],
    ['created as epoch milliseconds', doc({ created: 0 }), 'created: expected a Date or ISO-8601 string, got number 0'],
    ['created as an Invalid Date', doc({ created: new Date(NaN) }), 'created: Invalid Date'],
    [
      'created before year 1',
      doc({ created: new Date(-62_135_596_800_001) }),
      'created: date outside years 0001..9999 Date(0000-12-31T23:59:59.999Z)',
    ],
    ['updated as a string', doc({ updated: '2021-03-05T00:00:00Z' }), 'updated: expected a Date, got "2021-03-05T00:00:00Z"'],
    ['updated as an Invalid Date', doc({ updated: new Date(NaN) }), 'updated: Invalid Date'],
    ['a negative version', doc({ v: -1 }), 'v: expected a non-negative integer, got number -1'],
    ['a fractional version', doc({ v: 1.5 }), 'v: expected a non-negative integer, got number 1.5'],
    ['a version as a string', doc({ v: '3' }), 'v: expected a non-negative integer, got "3"'],
    ['deleted that is not a boolean', doc({ deleted: 'yes' }), 'deleted: expected true, false or missing, got "yes"'],
    ['an unknown field', doc({ owner: 'x' }), 'owner: unknown field'],
  ])('%s', (_, input, reason) => {
    const error = readError(input);
    expect(error.code).toBe('UNREADABLE_DOCUMENT');
    expect(error.reason).toBe(reason);
    expect(error.id).toBe(SAMPLE_ID);
    expect(error.message).toContain(reason);
  });

  it.each<[string, unknown, string]>([
    ['_id missing', undefined, '_id: missing'],
    [
      '_id in upper case',
      SAMPLE_ID.toUpperCase(),
      `_id: expected an ObjectId or 24 lower-case hex characters, got "${SAMPLE_ID.toUpperCase()}"`,
    ],
    ['_id too short', 'abc', '_id: expected an ObjectId or 24 lower-case hex characters, got "abc"'],
    ['_id a number', 12, '_id: expected an ObjectId or 24 lower-case hex characters, got number 12'],
    ['_id an odd ObjectId', { toHexString: () => 'zz' }, '_id: expected an ObjectId or 24 lower-case hex characters, got "zz"'],
  ])('%s: reported without an id', (_, id, reason) => {
    const error = readError(doc({ _id: id }));
    expect(error.reason).toBe(reason);
    expect(error.id).toBeUndefined();
  });

  it('a document that is not an object', () => {
    expect(readError(null).reason).toBe('document: expected an object, got null');
  });
});

describe('toLegacy', () => {
  const c: Conversation = {
    id: SAMPLE_ID,
    userId: 'user-1',
    title: null,
    messages: [{ role: 'assistant', content: 'hi', createdAt: TS }],
    metadata: { a: { b: 1 } },
    createdAt: CREATED,
    updatedAt: UPDATED,
    version: 4,
    deleted: false,
  };

  it('writes the current format with no deleted field when not deleted', () => {
    const out = toLegacy(c);
    expect(out).toEqual({
      _id: SAMPLE_ID,
      user_id: 'user-1',
      title: null,
      messages: [{ role: 'assistant', text: 'hi', ts: TS }],
      meta: { a: { b: 1 } },
      created: CREATED,
      updated: UPDATED,
      v: 4,
    });
    expect('deleted' in out).toBe(false);
  });

  it('writes deleted: true when deleted', () => {
    expect(toLegacy({ ...c, deleted: true }).deleted).toBe(true);
  });

  it('shares no dates or metadata with the conversation', () => {
    const out = toLegacy(c);
    expect(out.created).not.toBe(c.createdAt);
    expect(out.messages[0].ts).not.toBe(c.messages[0].createdAt);
    expect(out.meta.a).not.toBe(c.metadata.a);
  });
});

describe('round trips (property)', () => {
  it('canonical(fromLegacy(toLegacy(c))) == canonical(c)', () => {
    fc.assert(fc.property(arbConversation(), (c) => expectSameCanonical(fromLegacy(toLegacy(c)), c)));
  });

  it('any mix of legacy variations reads as the conversation it encodes', () => {
    fc.assert(fc.property(arbWildLegacyCase(), ({ document, expected }) => expectSameCanonical(fromLegacy(document), expected)));
  });
});
