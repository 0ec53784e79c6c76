/**
 * The legacy application's HTTP API, for mirroring sampled reads. A port with one adapter on `fetch`;
 * the request path comes from the configured template per endpoint. The bearer token, when configured,
 * is sent and never logged or returned.
 */
import type { HttpReply, Endpoint } from './domain/response-body';
import type { MirrorConfig } from './shadow.config';

export interface MirrorRequest {
  endpoint: Endpoint;
  id?: string;
  userId?: string;
  limit?: number;
  cursor?: string;
}

export interface LegacyApiPort {
  /** Whether this request can be replayed (mirroring configured, endpoint mapped, every value it needs present). */
  supports(request: MirrorRequest): boolean;
  fetch(request: MirrorRequest): Promise<HttpReply>;
}

export const LEGACY_API = Symbol('LEGACY_API');

export class LegacyApiError extends Error {
  readonly code = 'LEGACY_API_FAILED';
}

/**
 * `{name}` in the path must have a value; a query parameter whose value is only a placeholder without a
 * value is left out (e.g. `cursor={cursor}` on a first page). Null when the request cannot be expressed.
 */
export function mirrorPath(template: string, request: MirrorRequest): string | null {
  const values: Record<string, string | undefined> = {
    id: request.id,
    userId: request.userId,
    limit: request.limit === undefined ? undefined : String(request.limit),
    cursor: request.cursor,
  };
  const fill = (s: string) => s.replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(values[name] ?? ''));
  const [path, query] = template.split('?', 2) as [string, string | undefined];
  if ([...path.matchAll(/\{(\w+)\}/g)].some((m) => values[m[1]] === undefined)) return null;
  // A value the template has no place for would change what is asked for (another page, another size).
  if (request.cursor !== undefined && !template.includes('{cursor}')) return null;
  const params = (query ?? '')
    .split('&')
    .filter((p) => p !== '')
    .filter((p) => !/^[^=]*=\{(\w+)\}$/.test(p) || values[/\{(\w+)\}/.exec(p)![1]] !== undefined)
    .map(fill);
  return fill(path) + (params.length > 0 ? `?${params.join('&')}` : '');
}

export class HttpLegacyApiClient implements LegacyApiPort {
  constructor(private readonly config: MirrorConfig) {}

  supports(request: MirrorRequest): boolean {
    const template = this.config.endpoints[request.endpoint];
    return this.config.baseUrl !== undefined && template !== undefined && mirrorPath(template, request) !== null;
  }

  async fetch(request: MirrorRequest): Promise<HttpReply> {
    const template = this.config.endpoints[request.endpoint];
    const path = template === undefined ? null : mirrorPath(template, request);
    if (!this.config.baseUrl || path === null) throw new LegacyApiError(`no legacy API mapping for ${request.endpoint}`);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.config.token) headers.authorization = `Bearer ${this.config.token}`;
    let res: Response;
    try {
      res = await fetch(`${this.config.baseUrl}${path}`, { headers, signal: AbortSignal.timeout(this.config.timeoutMs) });
    } catch (err) {
      throw new LegacyApiError(
        `legacy API request failed: ${(err as Error).name === 'TimeoutError' ? `no answer within ${this.config.timeoutMs} ms` : (err as Error).message}`,
      );
    }
    const text = await res.text();
    if (res.status >= 500) throw new LegacyApiError(`legacy API answered ${res.status}`);
    let body: unknown = text;
    try {
      body = text === '' ? undefined : JSON.parse(text);
    } catch {
      /* compared as text: reported as unreadable */
    }
    return { status: res.status, body };
  }
}
