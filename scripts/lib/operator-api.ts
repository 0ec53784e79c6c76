/**
 * The operator API as the command lines see it: base URL and operator token from the environment or
 * .env.local (API_URL, OPERATOR_TOKEN or the first OPERATOR_API_TOKENS entry); the token is never printed.
 */
import { environmentWithEnvFile } from '../../src/config/env-file';

export class CliError extends Error {}

/** The API's refusal body ({ code, message, errors }); any other body (text, none) gives empty fields. */
export function refusal(body: unknown): { code?: string; message?: string; errors?: unknown } {
  return typeof body === 'object' && body !== null ? body : {};
}

export function operatorApi(urlVariable = 'API_URL') {
  const env = environmentWithEnvFile();
  const baseUrl = (env[urlVariable] ?? env.API_URL ?? 'http://127.0.0.1:3000').replace(/\/+$/, '');
  const token = (): string => {
    const direct = env.OPERATOR_TOKEN?.trim();
    if (direct) return direct;
    const first = env.OPERATOR_API_TOKENS?.split(',')[0]?.trim();
    if (first) return first.includes(':') ? first.slice(first.indexOf(':') + 1) : first;
    throw new CliError('no operator token: set OPERATOR_TOKEN (or OPERATOR_API_TOKENS) in the environment or .env.local');
  };
  /**
   * Resolves with status and body; the caller decides what a 409 means. `T` is the body the caller expects
   * for the status it checks (the API's answer, as JSON); a refusal's body is read with `refusal()`.
   */
  const call = async <T = unknown>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> => {
    let res: Response;
    try {
      res = await fetch(`${baseUrl}${path}`, {
        method,
        headers: { authorization: `Bearer ${token()}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(120_000),
      });
    } catch (err) {
      throw new CliError(`cannot reach the API at ${baseUrl}: ${(err as Error).message}`);
    }
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      /* not JSON */
    }
    return { status: res.status, body: parsed as T };
  };
  return { baseUrl, call };
}
