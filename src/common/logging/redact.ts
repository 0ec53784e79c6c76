/**
 * What no log line may carry: passwords in connection strings, credentials after an Authorization
 * scheme, and tokens, keys and signatures in query strings. `redactSecrets` is applied to every
 * finished JSON line just before it is written (root-logger.ts), so it also catches a secret that a
 * driver or a dependency put into an error message; the request serializer and pino's `redact` paths
 * keep the known places (headers, cookies) out in the first place.
 */

const CENSOR = '[Redacted]';

/** `scheme://user:password@`: the password, up to the `@` (JSON-escaped quotes and whitespace end it). */
const URL_PASSWORD = /\b([a-z][a-z0-9+.-]*:\/\/[^\s:/@"\\]*:)[^\s/@"\\]+@/gi;

/** `Bearer abc...` / `Basic dXNlcjpwYXNz`: the credentials after the scheme. */
const AUTH_CREDENTIALS = /\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/gi;

/** `?token=...`, `&X-Amz-Signature=...`, `api_key=...`: any query parameter whose name says it is a secret. */
const SECRET_NAMES = 'token|secret|password|passwd|pwd|api[_-]?key|apikey|signature|credential|auth';
const QUERY_SECRET = new RegExp(`([?&][a-z0-9_.-]*(?:${SECRET_NAMES})[a-z0-9_.-]*=)[^&\\s"#\\\\]*`, 'gi');

export function redactSecrets(text: string): string {
  return text.replace(URL_PASSWORD, '$1***@').replace(AUTH_CREDENTIALS, `$1 ${CENSOR}`).replace(QUERY_SECRET, `$1${CENSOR}`);
}

/** `scheme://user:***@host/db`: a server may be named in a log or error, its password never. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '<unparsable url>';
  }
}
