import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { canonical, canonicalHash, canonicalJson, diffCanonical } from './canonical';
import { Conversation, JsonObject } from './conversation.model';
import { arbConversation } from './testing/arbitraries';
import { SAMPLE_ID, sampleConversation } from './testing/fixtures';

const withMeta = (metadata: JsonObject, overrides: Partial<Conversation> = {}) => sampleConversation({ metadata, ...overrides });

describe('canonical', () => {
  it('is plain JSON with ISO timestamps to the millisecond', () => {
    const cc = canonical(sampleConversation());
    expect(cc).toEqual({
      id: SAMPLE_ID,
      userId: 'user-1',
      title: 'Trip to Kyoto 京都 🚄',
      messages: [
        { role: 'user', content: 'Where should I stay?', createdAt: '2021-03-04T05:06:07.123Z' },
        { role: 'assistant', content: 'Near Gion.', createdAt: '2021-03-04T05:06:09.000Z' },
        { role: 'tool', content: '', createdAt: '2021-03-04T05:06:10.001Z' },
      ],
      metadata: { nested: { a: { b: true }, z: 1 }, source: 'web', tags: ['travel', 'japan'] },
      createdAt: '2021-03-04T05:00:00.000Z',
      updatedAt: '2021-03-05T00:00:00.000Z',
      version: 3,
      deleted: false,
    });
    expect(JSON.parse(JSON.stringify(cc))).toEqual(cc);
  });

  it('sorts metadata keys at every level and keeps array order', () => {
    const cc = canonical(withMeta({ b: { y: 1, x: [{ d: 1, c: 2 }] }, a: null }));
    expect(Object.keys(cc.metadata)).toEqual(['a', 'b']);
    const b = cc.metadata.b as { x: Array<Record<string, number>> };
    expect(Object.keys(b)).toEqual(['x', 'y']);
    expect(Object.keys(b.x[0])).toEqual(['c', 'd']);
  });

  it('normalises an absent title to null and -0 to 0', () => {
    const c = withMeta({ n: -0 }, { title: undefined as unknown as null });
    expect(canonical(c).title).toBeNull();
    expect(Object.is(canonical(c).metadata.n, 0)).toBe(true);
  });

  it('keeps a __proto__ metadata key as data', () => {
    const cc = canonical(withMeta(JSON.parse('{"__proto__": {"x": 1}}')));
    expect(Object.keys(cc.metadata)).toEqual(['__proto__']);
    expect(canonicalJson(cc)).toContain('"metadata":{"__proto__":{"x":1}}');
  });

  it.each<[string, unknown]>([
    ['a Date', new Date(0)],
    ['NaN', NaN],
    ['undefined', undefined],
    ['Infinity', Infinity],
  ])('refuses %s in metadata rather than coercing it', (_, value) => {
    expect(() => canonical(withMeta({ bad: value as never }))).toThrow('metadata.bad: not a JSON value');
  });
});

describe('canonicalJson and canonicalHash', () => {
  it('do not depend on key insertion order', () => {
    const a = withMeta({ x: 1, y: { p: 1, q: 2 } });
    const b = withMeta({ y: { q: 2, p: 1 }, x: 1 });
    expect(canonicalJson(a)).toBe(canonicalJson(b));
    expect(canonicalHash(a)).toBe(canonicalHash(b));
  });

  it('sort every key, with no whitespace', () => {
    const json = canonicalJson(withMeta({}, { messages: [] }));
    expect(json).toBe(
      '{"createdAt":"2021-03-04T05:00:00.000Z","deleted":false,"id":"5f1d7a2b9c8e4d3a2b1c0d9e","messages":[],' +
        '"metadata":{},"title":"Trip to Kyoto 京都 🚄","updatedAt":"2021-03-05T00:00:00.000Z","userId":"user-1","version":3}',
    );
  });

  it('accept the canonical form as well as the conversation', () => {
    const c = sampleConversation();
    expect(canonicalJson(canonical(c))).toBe(canonicalJson(c));
  });

  it('hash is the sha256 hex of the canonical JSON', () => {
    const c = sampleConversation();
    expect(canonicalHash(c)).toBe(createHash('sha256').update(canonicalJson(c)).digest('hex'));
    expect(canonicalHash(c)).toMatch(/^[0-9a-f]{64}$/);
  });

  it('hash changes when anything meaningful changes', () => {
    const c = sampleConversation();
    expect(canonicalHash({ ...c, version: 4 })).not.toBe(canonicalHash(c));
    expect(canonicalHash({ ...c, updatedAt: new Date(c.updatedAt.getTime() + 1) })).not.toBe(canonicalHash(c));
  });
});

describe('diffCanonical', () => {
  const base = () => canonical(sampleConversation());

  it('is empty for equal conversations', () => {
    expect(diffCanonical(base(), base())).toEqual([]);
  });

  it('names top-level fields, message fields and metadata paths', () => {
    const right = base();
    right.title = null;
    right.messages[2].content = 'changed';
    (right.metadata.nested as { a: { b: unknown } }).a.b = false;
    expect(diffCanonical(base(), right)).toEqual([
      { path: 'title', left: 'Trip to Kyoto 京都 🚄', right: null },
      { path: 'messages[2].content', left: '', right: 'changed' },
      { path: 'metadata.nested.a.b', left: true, right: false },
    ]);
  });

  it('reports a length change, then each extra element', () => {
    const right = base();
    right.messages.pop();
    expect(diffCanonical(base(), right)).toEqual([
      { path: 'messages.length', left: 3, right: 2 },
      { path: 'messages[2]', left: base().messages[2], right: undefined },
    ]);
  });

  it('reports missing keys as undefined, quotes keys that are not identifiers, compares types', () => {
    const left = canonical(withMeta({ 'a.b': 1, constructor: 'x', list: [1] }));
    const right = canonical(withMeta({ extra: true, list: { 0: 1 } }));
    expect(diffCanonical(left, right)).toEqual([
      { path: 'metadata["a.b"]', left: 1, right: undefined },
      { path: 'metadata.constructor', left: 'x', right: undefined },
      { path: 'metadata.list', left: [1], right: { 0: 1 } },
      { path: 'metadata.extra', left: undefined, right: true },
    ]);
  });

  it('is empty exactly when the canonical JSON is equal (property)', () => {
    fc.assert(
      fc.property(arbConversation({ maxMessages: 3 }), arbConversation({ maxMessages: 3 }), fc.boolean(), (a, b, same) => {
        const right = same ? a : b;
        const equal = canonicalJson(a) === canonicalJson(right);
        expect(diffCanonical(canonical(a), canonical(right)).length === 0).toBe(equal);
      }),
    );
  });

  it('finds a single changed metadata leaf at its path (property)', () => {
    fc.assert(
      fc.property(arbConversation({ maxMessages: 1 }), fc.string(), (c, value) => {
        const changed = { ...c, metadata: { ...c.metadata, zzProbe: value } };
        const diff = diffCanonical(canonical(c), canonical(changed));
        const before = Object.hasOwn(c.metadata, 'zzProbe') ? c.metadata.zzProbe : undefined;
        expect(diff).toEqual(before === value ? [] : [{ path: 'metadata.zzProbe', left: before, right: value }]);
      }),
    );
  });
});
