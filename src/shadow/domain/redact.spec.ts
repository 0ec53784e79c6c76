import { isSecretKey, MASK, redactDifference, redactValue } from './redact';

describe('mismatch values', () => {
  it('masks values under secret-looking keys, wherever the key is', () => {
    expect(redactDifference({ path: 'metadata.apiToken', left: 'abc', right: 'def' }, 100)).toEqual({
      path: 'metadata.apiToken',
      left: MASK,
      right: MASK,
    });
    expect(redactDifference({ path: 'metadata.auth.user', left: 'a', right: 'b' }, 100)).toEqual({
      path: 'metadata.auth.user',
      left: MASK,
      right: MASK,
    });
    expect(redactValue('metadata', { password: 'hunter2', nested: { client_secret: 'x', keep: 1 } }, 1000)).toEqual({
      password: MASK,
      nested: { client_secret: MASK, keep: 1 },
    });
    expect(redactValue('metadata["Set-Cookie"]', 'a=b', 100)).toBe(MASK);
  });

  it('masks values that look like credentials under any key', () => {
    expect(redactValue('metadata.note', 'Bearer abc.def.ghi', 100)).toBe(MASK);
    expect(redactValue('metadata.note', 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig_nature', 100)).toBe(MASK);
    expect(redactValue('title', 'an ordinary title', 100)).toBe('an ordinary title');
  });

  it('does not take ordinary keys for secrets', () => {
    for (const k of ['author', 'title', 'authorName', 'wordCount']) expect(isSecretKey(k)).toBe(false);
    for (const k of ['password', 'PASSWORD', 'db_password', 'accessToken', 'x-api-key', 'Authorization', 'auth', 'privateKey', 'sessionId'])
      expect(isSecretKey(k)).toBe(true);
  });

  it('truncates long values and keeps an absent side absent', () => {
    const long = 'x'.repeat(500);
    expect(redactValue('messages[0].content', long, 10)).toBe(`${'x'.repeat(10)}…[+490 chars]`);
    expect(redactValue('metadata', { a: long }, 20)).toMatch(/^\{"a":"x{14}…\[\+\d+ chars\]$/);
    const d = redactDifference({ path: 'messages[2]', left: undefined, right: { role: 'user' } }, 100);
    expect(d).toEqual({ path: 'messages[2]', right: { role: 'user' } });
    expect('left' in d).toBe(false);
  });
});
