import { indexPath, keyPath } from './json-path';
import { cloneJson, isPlainObject, jsonProblems } from './json-value';

describe('json paths', () => {
  it.each([
    ['', 'title', 'title'],
    ['metadata', 'a', 'metadata.a'],
    ['metadata', 'a.b', 'metadata["a.b"]'],
    ['metadata', '', 'metadata[""]'],
    ['metadata', '1x', 'metadata["1x"]'],
    ['', '$set', '["$set"]'],
  ])('keyPath(%p, %p) is %p', (parent, key, expected) => {
    expect(keyPath(parent, key)).toBe(expected);
  });

  it('indexPath', () => expect(indexPath('messages', 3)).toBe('messages[3]'));
});

describe('isPlainObject', () => {
  it.each<unknown>([{}, Object.create(null), JSON.parse('{"a":1}')])('accepts %p', (v) => expect(isPlainObject(v)).toBe(true));
  it.each<unknown>([[], null, new Date(0), new (class Id {})(), 'x', 1])('refuses %p', (v) => expect(isPlainObject(v)).toBe(false));
});

describe('jsonProblems', () => {
  it('walks lazily, so the first problem costs no more than finding it', () => {
    const problems = jsonProblems({ a: NaN, b: undefined }, 'm');
    expect(problems.next().value).toEqual({ path: 'm.a', message: 'not a finite number: number NaN' });
    expect(problems.next().value).toEqual({ path: 'm.b', message: 'not a JSON value: undefined undefined' });
    expect(problems.next().done).toBe(true);
  });
});

describe('cloneJson', () => {
  it('copies deeply and keeps an own __proto__ key as data', () => {
    const source = JSON.parse('{"__proto__": {"polluted": true}, "a": [{"b": 1}]}');
    const copy = cloneJson(source) as Record<string, unknown>;
    expect(copy).toEqual(source);
    expect(copy.a).not.toBe(source.a);
    expect(Object.getPrototypeOf(copy)).toBe(Object.prototype);
    expect(Object.keys(copy)).toEqual(['__proto__', 'a']);
  });

  it('sorts keys on request', () => {
    expect(Object.keys(cloneJson({ b: 1, a: 2, B: 3 }, true) as object)).toEqual(['B', 'a', 'b']);
  });
});
