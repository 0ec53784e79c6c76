/**
 * The dashboard's only way to the API: the operator token from sessionStorage as a bearer header, JSON
 * both ways, and the API's error shape turned into ApiError. A 401 or 403 on any call signs out (the
 * token was revoked, or is not an operator's), whichever panel made it.
 */

const TOKEN_KEY = 'lms.operatorToken';

export const session = {
  token: (): string | null => sessionStorage.getItem(TOKEN_KEY),
  save: (token: string) => sessionStorage.setItem(TOKEN_KEY, token),
  clear: () => sessionStorage.removeItem(TOKEN_KEY),
};

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly errors: unknown[] = [],
  ) {
    super(message);
  }
}

export type AuthLost = (reason: 'unauthorized' | 'forbidden', message: string) => void;

export class Api {
  constructor(
    private readonly token: string,
    private readonly onAuthLost: AuthLost = () => undefined,
  ) {}

  get<T>(path: string): Promise<T> {
    return this.call<T>('GET', path);
  }

  post<T>(path: string, body?: unknown): Promise<T> {
    return this.call<T>('POST', path, body);
  }

  delete<T>(path: string): Promise<T> {
    return this.call<T>('DELETE', path);
  }

  async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.token}`, accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: 'same-origin',
        cache: 'no-store',
      });
    } catch (err) {
      throw new ApiError(0, 'NETWORK', `The API did not answer (${(err as Error).message})`);
    }
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (res.ok) return parsed as T;
    // The API's error shape ({ code, message, errors }); any other body (or none) leaves the fallbacks.
    const refusal: { code?: string; message?: string; errors?: unknown } = typeof parsed === 'object' && parsed !== null ? parsed : {};
    const err = new ApiError(
      res.status,
      refusal.code ?? `HTTP_${res.status}`,
      refusal.message ?? res.statusText,
      Array.isArray(refusal.errors) ? refusal.errors : [],
    );
    if (res.status === 401) this.onAuthLost('unauthorized', err.message);
    if (res.status === 403 && err.code === 'FORBIDDEN') this.onAuthLost('forbidden', err.message);
    throw err;
  }
}

/** What the sign-in screen says about a token the API refused. */
export function refusalText(status: number): string {
  if (status === 401) return 'The API did not accept that token (401). Check it and try again.';
  if (status === 403) return 'That is an application token (403). The dashboard needs an operator token (OPERATOR_API_TOKENS).';
  return `The API answered ${status}; try again.`;
}
