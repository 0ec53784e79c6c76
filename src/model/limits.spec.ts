import { checkContent, checkId, checkMetadata, checkRole, checkTitle, checkUserId, isValidId, LIMITS, metadataKeyProblem } from './limits';

/** An object nested `levels` containers deep (the outermost counts as 1), alternating objects and arrays. */
function nested(levels: number): Record<string, unknown> {
  let inner: unknown = 'leaf';
  for (let i = 1; i < levels; i++) inner = i % 2 ? [inner] : { k: inner };
  return { top: inner };
}

/** A metadata object whose JSON is exactly `bytes` long. */
function metadataOfBytes(bytes: number): Record<string, unknown> {
  const overhead = JSON.stringify({ k: '' }).length;
  return { k: 'x'.repeat(bytes - overhead) };
}

describe('ids', () => {
  it.each(['5f1d7a2b9c8e4d3a2b1c0d9e', '000000000000000000000000'])('accepts %s', (id) => {
    expect(isValidId(id)).toBe(true);
    expect(checkId(id)).toEqual([]);
  });

  it.each<unknown>(['5F1D7A2B9C8E4D3A2B1C0D9E', '5f1d7a2b9c8e4d3a2b1c0d9', '5f1d7a2b9c8e4d3a2b1c0d9e0', 'g'.repeat(24), 42, null])(
    'refuses %p',
    (id) => {
      expect(isValidId(id)).toBe(false);
      expect(checkId(id, 'params.id')).toEqual([{ field: 'params.id', message: 'must be 24 lower-case hex characters' }]);
    },
  );
});

describe('checkUserId', () => {
  it('accepts 200 characters, counting an emoji once', () => {
    expect(checkUserId('u'.repeat(200))).toEqual([]);
    expect(checkUserId('😀'.repeat(200))).toEqual([]);
  });

  it.each<[unknown, string]>([
    ['', 'must be a non-empty string'],
    [undefined, 'must be a non-empty string'],
    [7, 'must be a non-empty string'],
    ['u'.repeat(201), 'must be at most 200 characters'],
    ['a\u0000', 'contains a NUL character at index 1'],
    ['\ud800', 'contains a lone UTF-16 surrogate at index 0'],
  ])('refuses %p', (value, message) => {
    expect(checkUserId(value)).toEqual([{ field: 'userId', message }]);
  });
});

describe('checkTitle', () => {
  it.each<unknown>([null, undefined, '', 't'.repeat(500), '👩‍👩‍👧'.repeat(100)])('accepts %p', (title) => {
    expect(checkTitle(title)).toEqual([]);
  });

  it.each<[unknown, string]>([
    ['t'.repeat(501), 'must be at most 500 characters'],
    [12, 'must be a string or null'],
    ['x\u0000', 'contains a NUL character at index 1'],
    ['x\udc00y', 'contains a lone UTF-16 surrogate at index 1'],
  ])('refuses %p', (value, message) => {
    expect(checkTitle(value)).toEqual([{ field: 'title', message }]);
  });

  it('reports every problem at once', () => {
    expect(checkTitle('\u0000'.repeat(501)).map((e) => e.message)).toEqual([
      'contains a NUL character at index 0',
      'must be at most 500 characters',
    ]);
  });
});

describe('checkContent', () => {
  it('accepts empty content and exactly 64 KiB of UTF-8', () => {
    expect(checkContent('')).toEqual([]);
    expect(checkContent('a'.repeat(65536))).toEqual([]);
    expect(checkContent('€'.repeat(21845) + 'a')).toEqual([]); // 3 bytes each: 65535 + 1
  });

  it('counts bytes, not characters', () => {
    expect(checkContent('€'.repeat(21845) + 'é')).toEqual([
      { field: 'content', message: 'must be at most 65536 bytes in UTF-8 (is 65537)' },
    ]);
    expect(checkContent('a'.repeat(65537))).toHaveLength(1);
  });

  it.each<[unknown, string]>([
    [undefined, 'must be a string'],
    [null, 'must be a string'],
    ['hi\u0000', 'contains a NUL character at index 2'],
  ])('refuses %p', (value, message) => {
    expect(checkContent(value, 'messages[0].content')).toEqual([{ field: 'messages[0].content', message }]);
  });
});

describe('checkRole', () => {
  it.each(['user', 'assistant', 'system', 'tool'])('accepts %s', (role) => expect(checkRole(role)).toEqual([]));
  it.each<unknown>(['USER', 'robot', '', undefined])('refuses %p', (role) => {
    expect(checkRole(role)).toEqual([{ field: 'role', message: 'must be one of user, assistant, system, tool' }]);
  });
});

describe('checkMetadata', () => {
  it('accepts {}, JSON of every kind, 8 levels and exactly 16 KiB', () => {
    expect(checkMetadata({})).toEqual([]);
    expect(checkMetadata({ s: 'é', n: -1.5, b: false, z: null, a: [1, { x: [] }], '': 'empty key ok' })).toEqual([]);
    expect(checkMetadata(nested(LIMITS.metadataMaxDepth))).toEqual([]);
    expect(checkMetadata(metadataOfBytes(16384))).toEqual([]);
  });

  it.each<unknown>([null, [], 'x', 1, new Date(0), undefined])('refuses %p as the whole value', (value) => {
    expect(checkMetadata(value)).toEqual([{ field: 'metadata', message: 'must be a JSON object' }]);
  });

  it('refuses 9 levels, counting arrays', () => {
    expect(checkMetadata(nested(9))).toEqual([{ field: 'metadata.top.k[0].k[0].k[0].k', message: 'nested more than 8 levels deep' }]);
  });

  it('refuses 16 KiB + 1 byte, measured in UTF-8', () => {
    expect(checkMetadata(metadataOfBytes(16385))).toEqual([
      { field: 'metadata', message: 'must be at most 16384 bytes serialised (is 16385)' },
    ]);
    expect(checkMetadata({ k: 'é'.repeat(8192) })).toHaveLength(1);
  });

  it.each<[string, string, string]>([
    ['{"$set": 1}', 'metadata["$set"]', 'key must not start with "$"'],
    ['{"a.b": 1}', 'metadata["a.b"]', 'key must not contain "."'],
    ['{"a\\u0000": 1}', 'metadata["a\\u0000"]', 'key contains a NUL character at index 1'],
    ['{"__proto__": {}}', 'metadata.__proto__', 'key "__proto__" is reserved'],
    ['{"constructor": 1}', 'metadata.constructor', 'key "constructor" is reserved'],
    ['{"x": {"prototype": 1}}', 'metadata.x.prototype', 'key "prototype" is reserved'],
    ['{"x": [{"$where": 1}]}', 'metadata.x[0]["$where"]', 'key must not start with "$"'],
    ['{"x": ["a\\u0000"]}', 'metadata.x[0]', 'contains a NUL character at index 1'],
    ['{"x": "\\ud800"}', 'metadata.x', 'contains a lone UTF-16 surrogate at index 0'],
  ])('refuses %s', (json, field, message) => {
    expect(checkMetadata(JSON.parse(json))).toEqual([{ field, message }]);
  });

  it.each<[string, unknown]>([
    ['NaN', NaN],
    ['Infinity', Infinity],
    ['undefined', undefined],
    ['a Date', new Date(0)],
    ['a function', () => 1],
  ])('refuses %s as a value', (_, value) => {
    expect(checkMetadata({ v: value })).toEqual([{ field: 'metadata.v', message: expect.stringMatching(/^not a/) }]);
  });

  it('names the field it is given', () => {
    expect(checkMetadata({ $x: 1 }, 'body.metadata')[0].field).toBe('body.metadata["$x"]');
  });

  it('bounds the error list', () => {
    const many = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`$k${i}`, i]));
    expect(checkMetadata(many)).toHaveLength(LIMITS.maxErrorsPerField);
  });

  it('terminates on a cyclic object', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(checkMetadata(cyclic)).toEqual([
      { field: 'metadata.self.self.self.self.self.self.self.self', message: 'nested more than 8 levels deep' },
    ]);
  });
});

describe('metadataKeyProblem', () => {
  it.each(['a', 'a$', 'a-b', '日本', '', ' '])('accepts %p', (key) => expect(metadataKeyProblem(key)).toBeNull());
});
