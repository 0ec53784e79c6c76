import { codePointLength, quote, unstorableReason } from './text-safety';

describe('unstorableReason', () => {
  it.each(['', 'plain', '😀', '👩‍👩‍👧‍👦', 'e\u0301', '\u{10FFFF}', '\u0001\u007f'])('accepts %p', (s) => {
    expect(unstorableReason(s)).toBeNull();
  });

  it.each([
    ['ab\u0000', 'contains a NUL character at index 2'],
    ['\ud83d', 'contains a lone UTF-16 surrogate at index 0'],
    ['x\ude00', 'contains a lone UTF-16 surrogate at index 1'],
    ['\ude00\ud83d', 'contains a lone UTF-16 surrogate at index 0'],
    ['😀\ud83d!', 'contains a lone UTF-16 surrogate at index 2'],
  ])('refuses %p', (s, reason) => {
    expect(unstorableReason(s)).toBe(reason);
  });
});

describe('codePointLength', () => {
  it('counts code points, not UTF-16 units', () => {
    expect(codePointLength('a😀')).toBe(2);
    expect('a😀'.length).toBe(3);
  });
});

describe('quote', () => {
  it('escapes what would make an error message unstorable, and stays short', () => {
    expect(quote('a\u0000\ud800')).toBe('"a\\u0000\\ud800"');
    expect(quote('x'.repeat(100))).toBe(`"${'x'.repeat(60)}…"`);
  });

  it('describes non-strings without dumping them', () => {
    expect(quote({ secret: 1 })).toBe('an object');
    expect(quote([1])).toBe('an array');
    expect(quote(() => 'source')).toBe('a function');
    expect(quote(1.5)).toBe('number 1.5');
    expect(quote(new Date(NaN))).toBe('Date(Invalid)');
  });
});
