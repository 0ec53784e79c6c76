import { deadLetterKey, storableJson } from './raw-json';

describe('storableJson', () => {
  it('keeps ordinary Extended JSON as it is', () => {
    const raw = { _id: { $oid: '5f1d7a2b9c8e4d3a2b1c0d9e' }, created: { $date: { $numberLong: '1' } }, messages: [{ text: 'hé 😀' }] };
    expect(storableJson(raw)).toEqual(raw);
  });

  it('writes NUL and unpaired surrogates as visible text, in values and keys', () => {
    const out = storableJson({ title: 'a\u0000b', ['k\ud800']: ['\udc00x', '😀'] }) as Record<string, unknown>;
    expect(out).toEqual({ title: 'a\\u0000b', 'k\\ud800': ['\\udc00x', '😀'] });
    expect(JSON.stringify(out)).not.toContain('\u0000');
  });

  it('does not let a __proto__ key change the prototype', () => {
    const out = storableJson(JSON.parse('{"__proto__": {"polluted": true}}')) as Record<string, unknown>;
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(Object.keys(out)).toEqual(['__proto__']);
  });
});

describe('deadLetterKey', () => {
  it('names a document by its id', () => {
    expect(deadLetterKey({ $oid: '5f1d7a2b9c8e4d3a2b1c0d9e' })).toBe('5f1d7a2b9c8e4d3a2b1c0d9e');
    expect(deadLetterKey('legacy-7')).toBe('legacy-7');
    expect(deadLetterKey({ $numberInt: '42' })).toBe('{"$numberInt":"42"}');
    expect(deadLetterKey(undefined)).toBe('null');
  });
});
