import fc from 'fast-check';
import { InvalidRowError } from '../../model/errors';
import {
  CONVERSATION_COLUMNS,
  ConversationRow,
  fromMessageRows,
  fromMessageRowsMany,
  fromRows,
  MESSAGE_COLUMNS,
  MessageRow,
  parseVersion,
  toRows,
  WithMessageRows,
} from './pg-rows';
import { arbConversation } from '../../model/testing/arbitraries';
import { expectSameCanonical } from '../../model/testing/canonical-assert';
import { SAMPLE_ID, sampleConversation } from '../../model/testing/fixtures';

function rowsError(row: ConversationRow, messages: MessageRow[]): InvalidRowError {
  try {
    fromRows(row, messages);
  } catch (e) {
    if (e instanceof InvalidRowError) return e;
    throw e;
  }
  throw new Error('expected the rows to be refused');
}

describe('toRows', () => {
  it('maps to snake_case rows with 0-based seq and message_count', () => {
    const c = sampleConversation();
    const { conversation, messages } = toRows(c);
    expect(conversation).toEqual({
      id: SAMPLE_ID,
      user_id: 'user-1',
      title: c.title,
      metadata: c.metadata,
      created_at: c.createdAt,
      updated_at: c.updatedAt,
      version: 3,
      deleted: false,
      message_count: 3,
    });
    expect(messages.map((m) => [m.conversation_id, m.seq, m.role, m.content])).toEqual([
      [SAMPLE_ID, 0, 'user', 'Where should I stay?'],
      [SAMPLE_ID, 1, 'assistant', 'Near Gion.'],
      [SAMPLE_ID, 2, 'tool', ''],
    ]);
    expect(messages[2].created_at).toEqual(c.messages[2].createdAt);
  });

  it('has exactly the columns of the migration, in order', () => {
    const { conversation, messages } = toRows(sampleConversation());
    expect(Object.keys(conversation)).toEqual(CONVERSATION_COLUMNS);
    expect(Object.keys(messages[0])).toEqual(MESSAGE_COLUMNS);
  });
});

describe('fromRows', () => {
  const rows = () => toRows(sampleConversation());

  it('orders messages by seq whatever order they come in', () => {
    const { conversation, messages } = rows();
    expectSameCanonical(fromRows(conversation, [...messages].reverse()), sampleConversation());
  });

  it('accepts the bigint version as the string node-postgres returns', () => {
    const { conversation, messages } = rows();
    expect(fromRows({ ...conversation, version: '42' }, messages).version).toBe(42);
  });

  it.each<[string, (r: ConversationRow, m: MessageRow[]) => void, string]>([
    ['a missing message row', (_, m) => m.pop(), 'message_count is 3 but 2 message rows were given'],
    ['a gap in seq', (_, m) => (m[1].seq = 5), 'message seq 2 where 1 was expected'],
    ['a repeated seq', (_, m) => (m[2].seq = 1), 'message seq 1 where 2 was expected'],
    ['a message of another conversation', (_, m) => (m[0].conversation_id = 'f'.repeat(24)), `message seq 0 belongs to ${'f'.repeat(24)}`],
    ['an unknown role', (_, m) => (m[0].role = 'USER'), 'message seq 0: unknown role "USER"'],
    ['an invalid message date', (_, m) => (m[1].created_at = new Date(NaN)), 'messages[1].created_at: expected a valid Date'],
    ['an invalid created_at', (r) => (r.created_at = new Date(NaN)), 'created_at: expected a valid Date'],
    ['metadata that is not an object', (r) => ((r as { metadata: unknown }).metadata = [1]), 'metadata: expected a JSON object'],
    [
      'a version beyond 2^53',
      (r) => (r.version = '9007199254740993'),
      'version: expected a non-negative safe integer, got "9007199254740993"',
    ],
  ])('refuses %s', (_, spoil, reason) => {
    const { conversation, messages } = rows();
    spoil(conversation, messages);
    const error = rowsError(conversation, messages);
    expect(error.code).toBe('INVALID_ROW');
    expect(error.reason).toBe(reason);
    expect(error.id).toBe(SAMPLE_ID);
  });
});

describe('fromMessageRows', () => {
  /**
   * The rows SELECT_ONE_WITH_MESSAGE_ROWS answers for `c`: the conversation's, then one per message (its id, and the
   * other header columns null); with `ord`, as selectWithMessageRows numbers them.
   */
  const answer = (c = sampleConversation(), ord?: number): WithMessageRows[] => {
    const { conversation, messages } = toRows(c);
    const none = {
      user_id: null,
      title: null,
      metadata: null,
      updated_at: null,
      version: null,
      deleted: null,
      message_count: null,
    };
    return [
      { ...conversation, ord, seq: null, role: null, content: null },
      ...messages.map(
        (m) =>
          ({
            ...none,
            id: m.conversation_id,
            created_at: m.created_at,
            seq: m.seq,
            role: m.role,
            content: m.content,
          }) as unknown as WithMessageRows,
      ),
    ];
  };

  it('reads the conversation row and its message rows', () => {
    expectSameCanonical(fromMessageRows(answer())!, sampleConversation());
  });

  it('answers null for no rows', () => {
    expect(fromMessageRows([])).toBeNull();
    expect(fromMessageRowsMany([])).toEqual([]);
  });

  it('refuses message rows without their conversation row, and a message count the rows do not match', () => {
    expect(() => fromMessageRows(answer().slice(1))).toThrow(InvalidRowError);
    expect(() => fromMessageRows(answer().slice(0, 2))).toThrow(/message_count is 3 but 1 message rows/);
  });

  it('reads many conversations from their rows in any order, in the order `ord` numbers them', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(arbConversation({ maxMessages: 4 }), { selector: (c) => c.id, maxLength: 5 }).chain((cs) =>
          fc.tuple(
            fc.constant(cs),
            fc.shuffledSubarray(
              cs.flatMap((c, i) => answer(c, i + 1)),
              { minLength: cs.reduce((n, c) => n + 1 + c.messages.length, 0) },
            ),
          ),
        ),
        ([cs, rows]) => {
          const read = fromMessageRowsMany(rows);
          expect(read.length).toBe(cs.length);
          read.forEach((c, i) => expectSameCanonical(c, cs[i]));
        },
      ),
      { numRuns: 100, seed: 20261206 },
    );
  });

  it('refuses a conversation twice, and a message whose conversation is not there', () => {
    const other = { ...sampleConversation(), id: '0123456789abcdef01234567', messages: [] };
    expect(() => fromMessageRowsMany([...answer(), ...answer()])).toThrow(/the conversation came twice/);
    expect(() => fromMessageRowsMany([...answer(other), ...answer().slice(1)])).toThrow(
      /message seq 0 came without its conversation's row/,
    );
    expect(fromMessageRowsMany([...answer(sampleConversation(), 2), ...answer(other, 1)]).map((c) => c.id)).toEqual([other.id, SAMPLE_ID]);
  });
});

describe('parseVersion', () => {
  it.each<[number | string, number]>([
    [0, 0],
    ['0', 0],
    ['9007199254740991', Number.MAX_SAFE_INTEGER],
    [7, 7],
  ])('reads %p', (value, expected) => {
    expect(parseVersion(value)).toBe(expected);
  });

  it.each<number | string>(['-1', '1.5', '1e3', '', 'abc', ' 1', -1, 1.5, NaN, '9007199254740992'])('refuses %p', (value) => {
    expect(() => parseVersion(value)).toThrow(InvalidRowError);
  });
});

describe('round trip (property)', () => {
  it('canonical(fromRows(toRows(c))) == canonical(c), with versions as strings and rows in any order', () => {
    fc.assert(
      fc.property(arbConversation(), fc.boolean(), fc.boolean(), (c, versionAsString, reverse) => {
        const { conversation, messages } = toRows(c);
        const row = versionAsString ? { ...conversation, version: String(conversation.version) } : conversation;
        expectSameCanonical(fromRows(row, reverse ? [...messages].reverse() : messages), c);
      }),
    );
  });
});
