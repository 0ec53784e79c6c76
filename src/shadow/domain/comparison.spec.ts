import { canonical, CanonicalConversation } from '../../model/canonical';
import type { Conversation } from '../../model/conversation.model';
import { compareRecords, comparePages, conversationPath, noiseBetween, verdict } from './comparison';
import { PathRules } from './path-pattern';

const t = (s: number) => new Date(Date.UTC(2024, 0, 1, 0, 0, s));

function conv(over: Partial<Conversation> = {}): CanonicalConversation {
  return canonical({
    id: 'aaaaaaaaaaaaaaaaaaaaaaaa',
    userId: 'u1',
    title: 'hello',
    messages: [
      { role: 'user', content: 'hi', createdAt: t(1) },
      { role: 'assistant', content: 'hey', createdAt: t(2) },
    ],
    metadata: { a: { b: 1 }, lastSeen: 'x' },
    createdAt: t(0),
    updatedAt: t(2),
    version: 3,
    deleted: false,
    ...over,
  });
}

const none = new PathRules([]);
const decide = (
  left: CanonicalConversation | null,
  right: CanonicalConversation | null,
  opts: { ignore?: string[]; noise?: string[]; rechecks?: number } = {},
) =>
  verdict({
    compared: compareRecords(left, right),
    ignore: new PathRules(opts.ignore ?? []),
    noise: new PathRules(opts.noise ?? []),
    rechecks: opts.rechecks ?? 0,
    maxRechecks: 2,
  });

describe('shadow comparison', () => {
  it('finds each kind of difference with its canonical path', () => {
    const base = conv();
    const other = conv({
      title: 'changed',
      messages: [
        { role: 'user', content: 'HI', createdAt: t(1) },
        { role: 'assistant', content: 'hey', createdAt: t(2) },
        { role: 'user', content: 'more', createdAt: t(3) },
      ],
      metadata: { a: { b: 2 }, added: true },
      deleted: true,
    });
    const paths = compareRecords(base, other).differences.map((d) => d.path);
    expect(paths).toEqual([
      'title',
      'messages.length',
      'messages[0].content',
      'messages[2]',
      'metadata.a.b',
      'metadata.lastSeen',
      'metadata.added',
      'deleted',
    ]);
  });

  it('reports a record on one side only as `exists`, and that as a version difference', () => {
    const c = compareRecords(conv(), null);
    expect(c.differences).toEqual([{ path: 'exists', left: true, right: false }]);
    expect(c.versionsDiffer).toBe(true);
    expect(compareRecords(null, null)).toEqual({ differences: [], versionsDiffer: false, leftVersion: null, rightVersion: null });
  });

  it('compares pages position by position and counts a membership change as a version difference', () => {
    const a = conv();
    const b = conv({ id: 'bbbbbbbbbbbbbbbbbbbbbbbb', title: 'b' });
    const same = comparePages([a, b], [a, b]);
    expect(same.differences).toEqual([]);
    expect(same.versionsDiffer).toBe(false);
    const titled = comparePages([a, b], [a, { ...b, title: 'B' }]);
    expect(titled.differences.map((d) => d.path)).toEqual(['items[1].title']);
    expect(titled.versionsDiffer).toBe(false);
    const missing = comparePages([a, b], [a]);
    expect(missing.differences).toEqual([
      { path: 'items.length', left: 2, right: 1 },
      { path: 'items[1]', left: { id: b.id, version: 3 }, right: undefined },
    ]);
    expect(missing.versionsDiffer).toBe(true);
  });

  it('names list paths relative to the conversation for rules', () => {
    expect(conversationPath('items[3].metadata.x')).toBe('metadata.x');
    expect(conversationPath('items[3].messages[1].content')).toBe('messages[1].content');
    expect(conversationPath('items[3]')).toBe('');
    expect(conversationPath('title')).toBe('title');
  });

  it('decides matched, ignored and noisy', () => {
    expect(decide(conv(), conv())).toMatchObject({ kind: 'decided', outcome: 'matched' });
    const seen = conv({ metadata: { a: { b: 1 }, lastSeen: 'y' } });
    expect(decide(conv(), seen, { ignore: ['metadata.lastSeen'] })).toMatchObject({ kind: 'decided', outcome: 'ignored', real: [] });
    expect(decide(conv(), seen, { noise: ['metadata.lastSeen'] })).toMatchObject({ kind: 'decided', outcome: 'noisy', real: [] });
    const v = decide(conv(), conv({ title: 'x', metadata: { a: { b: 1 }, lastSeen: 'y' } }), { ignore: ['metadata.lastSeen'] });
    expect(v).toMatchObject({ kind: 'decided', outcome: 'mismatched' });
    expect(v.real.map((d) => d.path)).toEqual(['title']);
  });

  it('ignores list items by conversation paths', () => {
    const a = conv();
    const v = verdict({
      compared: comparePages([a], [{ ...a, messages: a.messages.map((m) => ({ ...m, createdAt: '2030-01-01T00:00:00.000Z' })) }]),
      ignore: new PathRules(['messages[*].createdAt']),
      noise: none,
      rechecks: 0,
      maxRechecks: 2,
    });
    expect(v).toMatchObject({ kind: 'decided', outcome: 'ignored' });
  });

  it('rechecks a version difference, then calls it lag if it converged or a mismatch if not', () => {
    const behind = conv({ version: 2, title: 'old' });
    expect(decide(conv(), behind)).toEqual({ kind: 'recheck', real: expect.any(Array) });
    expect(decide(conv(), behind, { rechecks: 1 })).toMatchObject({ kind: 'recheck' });
    expect(decide(conv(), behind, { rechecks: 2 })).toMatchObject({ kind: 'decided', outcome: 'mismatched' });
    expect(decide(conv(), conv(), { rechecks: 1 })).toMatchObject({ kind: 'decided', outcome: 'lag' });
    // Equal versions with different content never wait.
    expect(decide(conv(), conv({ title: 'other' }))).toMatchObject({ kind: 'decided', outcome: 'mismatched' });
  });

  it('finds noise between two reads of one version only', () => {
    const first = conv({ metadata: { a: { b: 1 }, lastSeen: 'x', nonce: 1 } });
    const second = conv({
      metadata: { a: { b: 1 }, lastSeen: 'x', nonce: 2 },
      messages: [
        { role: 'user', content: 'hi', createdAt: t(9) },
        { role: 'assistant', content: 'hey', createdAt: t(2) },
      ],
    });
    expect(noiseBetween(first, second)).toEqual([
      { path: 'messages[*].createdAt', first: '2024-01-01T00:00:01.000Z', second: '2024-01-01T00:00:09.000Z' },
      { path: 'metadata.nonce', first: 1, second: 2 },
    ]);
    expect(noiseBetween(first, { ...second, version: 4 })).toEqual([]);
    expect(noiseBetween(first, null)).toEqual([]);
    expect(
      noiseBetween([first, conv({ id: 'bbbbbbbbbbbbbbbbbbbbbbbb' })], [conv({ id: 'bbbbbbbbbbbbbbbbbbbbbbbb' }), second]).map(
        (n) => n.path,
      ),
    ).toEqual(['messages[*].createdAt', 'metadata.nonce']);
  });
});
