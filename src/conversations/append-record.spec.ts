import type { Conversation } from '../model/conversation.model';
import { appendAsLanded, appendedOf, appendRecord } from './append-record';

/** The record a keyed append whose answer was `c` stores. */
const recordOf = (c: Conversation) => appendRecord(appendedOf(c)!);

const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s, 123));

/** A conversation of `n` messages, the last appended at second `n` as version `n + 1`. */
function conversation(n: number, header: Partial<Conversation> = {}): Conversation {
  return {
    id: 'a'.repeat(24),
    userId: 'u1',
    title: 'first title',
    messages: Array.from({ length: n }, (_, i) => ({ role: 'user' as const, content: `message ${i}`, createdAt: at(i + 1) })),
    metadata: { topic: 'x', nested: { a: [1, 2] } },
    createdAt: at(0),
    updatedAt: at(n),
    version: n + 1,
    deleted: false,
    ...header,
  };
}

/** `c` with one more message appended at second `s`. */
function appended(c: Conversation, s: number, content = `message ${c.messages.length}`): Conversation {
  return {
    ...c,
    messages: [...c.messages, { role: 'assistant', content, createdAt: at(s) }],
    updatedAt: at(s),
    version: c.version + 1,
  };
}

describe('appendedOf / appendRecord / appendAsLanded', () => {
  const done = conversation(3);
  const record = recordOf(done);

  it('records the write in a few hundred bytes, whatever the conversation holds', () => {
    const long = conversation(1000);
    expect(JSON.stringify(recordOf(long)).length).toBeLessThan(400);
    expect(JSON.stringify(long).length).toBeGreaterThan(40_000);
  });

  it('gives the first answer again from the state it made', () => {
    expect(appendAsLanded(record, done)).toEqual(done);
  });

  it('gives the first answer again after later appends, a header change and a delete', () => {
    let later = appended(appended(done, 10), 11);
    later = { ...later, title: 'second title', metadata: { other: true }, version: later.version + 1, updatedAt: at(12) };
    later = { ...later, deleted: true, version: later.version + 1, updatedAt: at(13) };
    expect(appendAsLanded(record, later)).toEqual(done);
  });

  it('survives the store that holds the record (JSON) and keeps a null title', () => {
    const untitled = conversation(2, { title: null, metadata: {} });
    const stored = JSON.parse(JSON.stringify(recordOf(untitled)));
    expect(appendAsLanded(stored, appended(untitled, 9))).toEqual(untitled);
  });

  it('refuses a state that does not hold the message where it was written', () => {
    expect(appendAsLanded(record, conversation(2))).toBeNull();
    const rewritten = { ...done, messages: done.messages.map((m, i) => (i === 2 ? { ...m, content: 'edited' } : m)), version: 9 };
    expect(appendAsLanded(record, rewritten)).toBeNull();
    const retimed = { ...done, messages: done.messages.map((m, i) => (i === 2 ? { ...m, createdAt: at(50) } : m)), version: 9 };
    expect(appendAsLanded(record, retimed)).toBeNull();
  });

  it('does not take for an append what is not one (its message timed otherwise, or no message)', () => {
    expect(appendedOf({ ...done, updatedAt: at(40) })).toBeNull();
    expect(appendedOf(conversation(0))).toBeNull();
  });

  it('records an append answered without the conversation as it records one answered with it', () => {
    const { messages, ...head } = done;
    const minimal = { head, index: messages.length - 1, message: messages[messages.length - 1] };
    expect(appendedOf(minimal)).toBe(minimal);
    expect(appendRecord(minimal)).toEqual(record);
  });
});
