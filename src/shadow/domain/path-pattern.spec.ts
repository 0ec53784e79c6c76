import { generalisePath, parsePath, PathRules, patternProblem } from './path-pattern';

describe('path patterns', () => {
  it('reads every spelling the canonical diff produces', () => {
    expect(parsePath('messages[2].content')).toEqual([
      { kind: 'key', key: 'messages' },
      { kind: 'index', index: 2 },
      { kind: 'key', key: 'content' },
    ]);
    expect(parsePath('metadata["a.b"].c')).toEqual([
      { kind: 'key', key: 'metadata' },
      { kind: 'key', key: 'a.b' },
      { kind: 'key', key: 'c' },
    ]);
    expect(parsePath('metadata["say \\"hi\\"]"]')).toEqual([
      { kind: 'key', key: 'metadata' },
      { kind: 'key', key: 'say "hi"]' },
    ]);
    expect(parsePath('messages.length')).toEqual([
      { kind: 'key', key: 'messages' },
      { kind: 'key', key: 'length' },
    ]);
  });

  it('matches a path and everything beneath it', () => {
    const rules = new PathRules(['metadata.lastSeen', 'updatedAt']);
    expect(rules.matches('metadata.lastSeen')).toBe(true);
    expect(rules.matches('metadata.lastSeen.tz')).toBe(true);
    expect(rules.matches('metadata.lastSeenAt')).toBe(false);
    expect(rules.matches('updatedAt')).toBe(true);
    expect(rules.matches('metadata')).toBe(false);
  });

  it('takes [*] for any index and * for any one segment', () => {
    const rules = new PathRules(['messages[*].createdAt', 'metadata.*.ts']);
    expect(rules.matches('messages[0].createdAt')).toBe(true);
    expect(rules.matches('messages[17].createdAt')).toBe(true);
    expect(rules.matches('messages[1].content')).toBe(false);
    // A different number of messages is never covered by a rule about each message.
    expect(rules.matches('messages.length')).toBe(false);
    expect(rules.matches('metadata.device.ts')).toBe(true);
    expect(rules.matches('metadata["a.b"].ts')).toBe(true);
    expect(rules.matches('metadata.device.other')).toBe(false);
  });

  it('matches quoted keys exactly, and never an empty or unreadable path', () => {
    const rules = new PathRules(['metadata["a.b"]']);
    expect(rules.matches('metadata["a.b"]')).toBe(true);
    expect(rules.matches('metadata.a.b')).toBe(false);
    expect(rules.matches('')).toBe(false);
    expect(rules.matches('metadata[')).toBe(false);
  });

  it('generalises indices so noise found in one element holds for all', () => {
    expect(generalisePath('messages[3].createdAt')).toBe('messages[*].createdAt');
    expect(generalisePath('metadata.list[0][1]')).toBe('metadata.list[*][*]');
    expect(generalisePath('metadata["x y"]')).toBe('metadata["x y"]');
  });

  it('explains a bad pattern', () => {
    expect(patternProblem('messages[*].createdAt')).toBeNull();
    expect(patternProblem('messages[x]')).toMatch(/expected \[n\]/);
    expect(patternProblem('a..b')).toMatch(/expected a key/);
    expect(patternProblem('')).toMatch(/empty/);
    expect(() => parsePath('messages[*]')).toThrow(/only allowed in patterns/);
  });
});
