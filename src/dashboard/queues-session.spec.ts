import type { ApiToken } from '../common/auth/auth.config';
import { cookieValue, QueuesSessions } from './queues-session';

const tokens: ApiToken[] = [
  { name: 'ops', token: 'operator-token-aaaaaaaaaaaa', role: 'operator' },
  { name: 'ops2', token: 'operator-token-bbbbbbbbbbbb', role: 'operator' },
  { name: 'app', token: 'application-token-cccccccc', role: 'app' },
];

describe('QueuesSessions', () => {
  const sessions = new QueuesSessions(tokens, 60_000);
  const now = 1_800_000_000_000;

  it('accepts what it minted until it expires, and names the operator', () => {
    const { value, expiresAt } = sessions.mint('ops', now);
    expect(expiresAt).toBe(now + 60_000);
    expect(value).not.toContain('operator-token');
    expect(sessions.verify(value, now)).toEqual({ name: 'ops' });
    expect(sessions.verify(value, now + 59_999)).toEqual({ name: 'ops' });
    expect(sessions.verify(value, now + 60_000)).toBeNull();
  });

  it('refuses a forged, altered, extended or truncated value', () => {
    const { value } = sessions.mint('ops', now);
    const [v, exp, name, sig] = value.split('.');
    expect(sessions.verify(`${v}.${Number(exp) + 1}.${name}.${sig}`, now)).toBeNull();
    expect(sessions.verify(`${v}.${exp}.${Buffer.from('ops2').toString('base64url')}.${sig}`, now)).toBeNull();
    expect(sessions.verify(`${v}.${exp}.${name}.${'A'.repeat(43)}`, now)).toBeNull();
    expect(sessions.verify(value.slice(0, -1), now)).toBeNull();
    expect(sessions.verify('', now)).toBeNull();
    expect(sessions.verify(undefined, now)).toBeNull();
    // An expiry further out than the TTL was not minted here.
    expect(new QueuesSessions(tokens, 120_000).verify(new QueuesSessions(tokens, 120_000).mint('ops', now).value, now)).toEqual({
      name: 'ops',
    });
    expect(sessions.verify(new QueuesSessions(tokens, 120_000).mint('ops', now).value, now)).toBeNull();
  });

  it('dies with its token, and app tokens cannot mint one', () => {
    const { value } = sessions.mint('ops', now);
    expect(
      new QueuesSessions(
        tokens.filter((t) => t.name !== 'ops'),
        60_000,
      ).verify(value, now),
    ).toBeNull();
    expect(new QueuesSessions([{ ...tokens[0], token: 'operator-token-rotated00' }], 60_000).verify(value, now)).toBeNull();
    expect(() => sessions.mint('app', now)).toThrow();
  });
});

describe('cookieValue', () => {
  it('finds one cookie among several', () => {
    expect(cookieValue('a=1; lms_queues=v1.x.y.z; b=2', 'lms_queues')).toBe('v1.x.y.z');
    expect(cookieValue('xlms_queues=1', 'lms_queues')).toBeUndefined();
    expect(cookieValue(undefined, 'lms_queues')).toBeUndefined();
  });
});
