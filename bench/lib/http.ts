/**
 * A small JSON client on node:http with a keep-alive agent sized to the load's concurrency: one
 * reused connection per worker and far less client-side CPU than fetch, which matters when the
 * client shares two cores with the API and both databases.
 */
import * as http from 'node:http';

/** `T`: the body the caller expects for the status it checks (parsed JSON, unchecked; the text when not JSON). */
export interface JsonResponse<T = unknown> {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: T;
  text: string;
}

export class HttpError extends Error {
  constructor(
    readonly method: string,
    readonly path: string,
    readonly response: JsonResponse,
  ) {
    super(`${method} ${path} -> ${response.status} ${response.text.slice(0, 200)}`);
  }
}

export class JsonClient {
  private readonly agent: http.Agent;
  private readonly host: string;
  private readonly port: number;

  constructor(
    baseUrl: string,
    private readonly token: string | null,
    maxSockets: number,
  ) {
    const u = new URL(baseUrl);
    this.host = u.hostname;
    this.port = Number(u.port);
    this.agent = new http.Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets, scheduling: 'lifo' });
  }

  /**
   * A request. A read sent on a kept-alive socket that the server closed as it was sent (its keep-alive
   * timeout ran out while the socket sat idle between windows) fails with ECONNRESET before anything was
   * processed; it is sent once more on a new socket, as Node's documentation of `reusedSocket` advises. Writes
   * are never resent.
   */
  async request<T = unknown>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<JsonResponse<T>> {
    try {
      return await this.send<T>(method, path, body, headers);
    } catch (err) {
      const reset =
        (err as { code?: string; reusedSocket?: boolean }).code === 'ECONNRESET' && (err as { reusedSocket?: boolean }).reusedSocket;
      if (!reset || (method !== 'GET' && method !== 'HEAD')) throw err;
      return this.send<T>(method, path, body, headers);
    }
  }

  private send<T>(method: string, path: string, body: unknown, headers: Record<string, string>): Promise<JsonResponse<T>> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body), 'utf8');
    const h: Record<string, string | number> = { ...headers };
    if (this.token) h.authorization = `Bearer ${this.token}`;
    if (payload) {
      h['content-type'] = 'application/json';
      h['content-length'] = payload.length;
    }
    return new Promise((resolve, reject) => {
      const req = http.request({ host: this.host, port: this.port, method, path, headers: h, agent: this.agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = text;
          if (text !== '' && (res.headers['content-type'] ?? '').includes('json')) {
            try {
              parsed = JSON.parse(text);
            } catch {
              /* keep the text */
            }
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: parsed as T, text });
        });
      });
      req.on('error', (err) => reject(Object.assign(err, { reusedSocket: req.reusedSocket })));
      req.end(payload);
    });
  }

  /** Like request, but rejects unless the status is the expected one. */
  async expect<T = unknown>(
    status: number,
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<JsonResponse<T>> {
    const res = await this.request<T>(method, path, body, headers);
    if (res.status !== status) throw new HttpError(method, path, res);
    return res;
  }

  close(): void {
    this.agent.destroy();
  }
}
