import { compareReplies, conversationFromBody } from './response-body';

const dto = (over: Record<string, unknown> = {}) => ({
  id: 'aaaaaaaaaaaaaaaaaaaaaaaa',
  userId: 'u1',
  title: 't',
  messages: [{ role: 'user', content: 'hi', createdAt: '2024-01-01T00:00:01.000Z' }],
  metadata: { a: 1 },
  createdAt: '2024-01-01T00:00:00.000Z',
  updatedAt: '2024-01-01T00:00:01.000Z',
  version: 2,
  ...over,
});

describe('HTTP mirror replies', () => {
  it('reads both spellings of one conversation the same way', () => {
    const legacyish = dto({ messages: [{ role: 'USER', text: 'hi', ts: Date.UTC(2024, 0, 1, 0, 0, 1) }], metadata: undefined });
    const a = compareReplies('get', { status: 200, body: dto({ metadata: {} }) }, { status: 200, body: legacyish });
    expect(a.differences).toEqual([]);
  });

  it('finds a planted difference with its path', () => {
    const c = compareReplies('get', { status: 200, body: dto() }, { status: 200, body: dto({ title: 'legacy' }) });
    expect(c.differences).toEqual([{ path: 'title', left: 't', right: 'legacy' }]);
    expect(c.versionsDiffer).toBe(false);
  });

  it('reports status differences, and 200 against 404 as a version difference', () => {
    expect(compareReplies('get', { status: 200, body: dto() }, { status: 404 })).toMatchObject({
      differences: [{ path: 'status', left: 200, right: 404 }],
      versionsDiffer: true,
    });
    expect(compareReplies('get', { status: 200, body: dto() }, { status: 403 })).toMatchObject({ versionsDiffer: false });
    expect(compareReplies('get', { status: 404, body: { a: 1 } }, { status: 404, body: 'nope' }).differences).toEqual([]);
  });

  it('compares pages by their items only', () => {
    const c = compareReplies(
      'list',
      { status: 200, body: { items: [dto()], nextCursor: 'x' } },
      { status: 200, body: { items: [dto({ version: 3 })], next: 'y' } },
    );
    expect(c.differences.map((d) => d.path)).toEqual(['items[0].version']);
    expect(c.versionsDiffer).toBe(true);
  });

  it('reports a body that is not a conversation', () => {
    expect(conversationFromBody({ id: 'x' })).toEqual({ ok: false, problem: 'userId: not a string' });
    const c = compareReplies('get', { status: 200, body: dto() }, { status: 200, body: '<html>' });
    expect(c.differences).toEqual([{ path: 'body', left: 'readable', right: 'unreadable: not an object' }]);
  });
});
