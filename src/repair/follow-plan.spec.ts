import { sampleConversation } from '../model/testing/fixtures';
import type { Conversation } from '../model/conversation.model';
import { AppendedToHead, planFollow, WrittenChange } from './follow-plan';

const base = sampleConversation({ version: 3 });
const appendTo = (c: Conversation, text: string): Conversation => ({
  ...c,
  messages: [...c.messages, { role: 'user', content: text, createdAt: new Date(c.updatedAt.getTime() + 1) }],
  version: c.version + 1,
});
const change = (from: Conversation, next: Conversation, shape: WrittenChange['shape']): WrittenChange => ({
  next,
  from: from.version,
  shape,
});

describe('planFollow', () => {
  it('follows one append as one pushed message on the version it was made from', () => {
    const next = appendTo(base, 'hello');
    expect(planFollow([change(base, next, 'append')])).toEqual({ kind: 'update', c: next, from: 3, shape: 'append', appended: 1 });
  });

  it('merges appends and header changes in order: every pushed message, the last header', () => {
    const a = appendTo(base, 'one');
    const b = { ...a, title: 'renamed', version: a.version + 1 };
    const c = appendTo(b, 'two');
    expect(planFollow([change(base, a, 'append'), change(a, b, 'header'), change(b, c, 'append')])).toEqual({
      kind: 'update',
      c,
      from: 3,
      shape: 'header',
      appended: 2,
    });
  });

  it('inserts the last state of a run that starts with a create', () => {
    const created = { ...base, version: 1 };
    const next = appendTo(created, 'hi');
    expect(planFollow([{ next: created, from: null, shape: 'replace' }, change(created, next, 'append')])).toEqual({
      kind: 'insert',
      c: next,
    });
  });

  /** `next` as an append made on the head of `from` (without its messages) writes it. */
  const onHead = (from: Conversation, next: Conversation): AppendedToHead => {
    const { messages, ...header } = next;
    return {
      head: { ...header, messageCount: messages.length, contentBytes: 0 },
      appended: messages[messages.length - 1],
      from: from.version,
      shape: 'append',
    };
  };

  it('follows appends made on the head as the same pushed messages and last header', () => {
    const a = appendTo(base, 'one');
    const b = { ...a, title: 'renamed', version: a.version + 1 };
    const c = appendTo(b, 'two');
    const d = appendTo(c, 'three');
    const plan = planFollow([onHead(base, a), change(a, b, 'header'), change(b, c, 'append'), onHead(c, d)]);
    const { messages, ...header } = d;
    expect(plan).toEqual({
      kind: 'update',
      c: { ...header, messages: messages.slice(-3) },
      from: 3,
      shape: 'header',
      appended: 3,
      partial: true,
    });
    // Whole last state: the same plan as before, its last three messages the ones pushed.
    expect(planFollow([onHead(base, a), change(a, b, 'header'), change(b, c, 'append'), change(c, d, 'append')])).toEqual({
      kind: 'update',
      c: d,
      from: 3,
      shape: 'header',
      appended: 3,
    });
  });

  it('leaves a create followed by an append on the head to a repair (the insert needs the whole state)', () => {
    const created = { ...base, version: 1 };
    expect(planFollow([{ next: created, from: null, shape: 'replace' }, onHead(created, appendTo(created, 'hi'))])).toBeNull();
  });

  it('refuses a gap between versions (another replica wrote in between), a replace, and nothing at all', () => {
    const a = appendTo(base, 'one');
    const c = appendTo({ ...a, version: a.version + 1 }, 'two');
    expect(planFollow([change(base, a, 'append'), { next: c, from: a.version + 1, shape: 'append' }])).toBeNull();
    expect(planFollow([change(base, { ...base, version: 4 }, 'replace')])).toBeNull();
    expect(planFollow([])).toBeNull();
  });
});
