/** The API tokens section (AppConfig `auth`). */
import type { EnvReader } from '../../config/env-reader';

export interface ApiToken {
  name: string;
  token: string;
  role: 'app' | 'operator';
}

export interface AuthConfig {
  tokens: ApiToken[];
}

export const AUTH_CONFIG = Symbol('AUTH_CONFIG');

const MIN_TOKEN_LENGTH = 16;

/** Entries are `name:token` (the name is what the audit log shows) or a bare token. */
function readTokens(r: EnvReader, variable: string, role: ApiToken['role']): ApiToken[] {
  return r.list(variable).map((entry, index) => {
    const colon = entry.indexOf(':');
    const name = colon > 0 ? entry.slice(0, colon) : `${role}-${index + 1}`;
    const token = colon > 0 ? entry.slice(colon + 1) : entry;
    if (token.length < MIN_TOKEN_LENGTH) {
      // Never echo the token itself: only its position.
      r.problem(variable, `entry ${index + 1} (${name}) is shorter than ${MIN_TOKEN_LENGTH} characters`);
    }
    return { name, token, role };
  });
}

/** `localDevMode` (the server section's) allows an open API when no token is configured. */
export function readAuthConfig(r: EnvReader, localDevMode: boolean): AuthConfig {
  const tokens = [...readTokens(r, 'APP_API_TOKENS', 'app'), ...readTokens(r, 'OPERATOR_API_TOKENS', 'operator')];
  if (tokens.length === 0 && !localDevMode) {
    r.problem(
      'APP_API_TOKENS',
      'no API tokens configured (set APP_API_TOKENS / OPERATOR_API_TOKENS, or LOCAL_DEV_MODE=true for an open local API)',
    );
  }
  return { tokens };
}
