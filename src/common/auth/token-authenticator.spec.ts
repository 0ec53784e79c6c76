import { TokenAuthenticator } from './token-authenticator';

const config = (tokens: Array<{ name: string; token: string; role: 'app' | 'operator' }>, localDevMode = false) => ({
  auth: { tokens },
  app: { port: 0, localDevMode, logLevel: 'info' as const, bodyLimitBytes: 0, docs: 'operator' as const },
});
const TOKENS = [
  { name: 'billing', token: 'app-token-0123456789', role: 'app' as const },
  { name: 'ops', token: 'operator-token-012345', role: 'operator' as const },
];
const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

describe('TokenAuthenticator', () => {
  const auth = new TokenAuthenticator(config(TOKENS));

  it('finds the principal of a bearer token', () => {
    expect(auth.authenticate('Bearer app-token-0123456789')).toEqual({ name: 'billing', role: 'app' });
    expect(auth.authenticate('Bearer operator-token-012345')).toEqual({ name: 'ops', role: 'operator' });
    expect(auth.authenticate('Bearer operator-token-01234')).toBeNull();
    expect(auth.authenticate('bearer operator-token-012345')).toBeNull();
    expect(auth.authenticate(undefined)).toBeNull();
  });

  it('takes the password of a Basic header only when asked to, whatever the user name', () => {
    expect(auth.authenticate(basic('anyone', 'operator-token-012345'))).toBeNull();
    expect(auth.authenticate(basic('anyone', 'operator-token-012345'), { basic: true })).toEqual({ name: 'ops', role: 'operator' });
    expect(auth.authenticate(basic('', 'app-token-0123456789'), { basic: true })).toEqual({ name: 'billing', role: 'app' });
    expect(auth.authenticate(basic('anyone', ''), { basic: true })).toBeNull();
    expect(auth.authenticate('Basic !!!', { basic: true })).toBeNull();
    expect(auth.authenticate(`Basic ${Buffer.from('no-colon').toString('base64')}`, { basic: true })).toBeNull();
  });

  it('is open only with no tokens in local development mode', () => {
    expect(new TokenAuthenticator(config([], true)).authenticate(undefined)).toEqual({ name: 'local-dev', role: 'operator' });
    expect(new TokenAuthenticator(config(TOKENS, true)).authenticate(undefined)).toBeNull();
    expect(new TokenAuthenticator(config([], false)).authenticate('Bearer x')).toBeNull();
  });
});
