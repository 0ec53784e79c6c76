/**
 * A stand-in for the API in the tests of scripts that talk to it over HTTP (the canary's load test, the
 * smoke tests' public mode): the conversation routes with the application and operator tokens, the health
 * routes, /metrics answered or refused as configured. It records every request (method, path, token), and
 * can be told to refuse the application token (401) to show what a script does then.
 */
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeApiRequest {
  method: string;
  path: string;
  token: string | null;
}

export interface FakeApi {
  url: string;
  requests: FakeApiRequest[];
  /** What the next requests get: `refuseApp` answers 401 to the application token; `metrics` 200 or 404. */
  options: { refuseApp: boolean; metrics: 200 | 404 };
  close(): Promise<void>;
}

export async function startFakeApi(appToken: string, operatorToken: string): Promise<FakeApi> {
  const conversations = new Map<string, { id: string; userId: string; title: string; version: number; messages: unknown[] }>();
  const requests: FakeApiRequest[] = [];
  const options: FakeApi['options'] = { refuseApp: false, metrics: 200 };
  let next = 1;

  const json = (res: ServerResponse, status: number, body?: unknown) => {
    res.writeHead(status, { 'Content-Type': 'application/json' });
    res.end(body === undefined ? '' : JSON.stringify(body));
  };
  const readBody = (req: IncomingMessage) =>
    new Promise<any>((resolve) => {
      let data = '';
      req.on('data', (c) => (data += c)).on('end', () => resolve(data ? JSON.parse(data) : undefined));
    });

  // The handler's promise is not awaited by node: a failure inside it surfaces as an unhandled rejection, failing the test.
  const server: Server = createServer((req, res) => void handle(req, res));
  async function handle(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url!, 'http://fake');
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? null;
    requests.push({ method: req.method!, path: url.pathname + url.search, token });
    const body = await readBody(req);
    if (url.pathname === '/health/live') return json(res, 200, { status: 'ok' });
    if (url.pathname === '/health/ready') return json(res, 200, { status: 'ready', checks: { postgres: { status: 'up' } } });
    if (url.pathname === '/metrics') {
      if (options.metrics === 404) return json(res, 404, { code: 'NOT_FOUND' });
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      return res.end(
        [
          'http_request_duration_seconds_count{method="POST",route="/conversations",status="201"} 1',
          'http_request_duration_seconds_bucket{le="0.1"} 1',
          'process_cpu_user_seconds_total 1',
          'sync_catchup_lag_seconds 0',
          'shadow_window_mismatch_ratio 0',
          'traffic_change_oldest_open_age_seconds 0',
        ].join('\n'),
      );
    }
    if (url.pathname === '/migration/status') {
      if (token === operatorToken) return json(res, 200, { phase: 'shadow' });
      return json(res, token === appToken ? 403 : 401, { code: 'FORBIDDEN' });
    }
    if (token !== appToken || options.refuseApp) return json(res, 401, { code: 'UNAUTHORIZED' });
    const m = /^\/conversations(?:\/([^/]+))?(\/messages)?$/.exec(url.pathname);
    if (!m) return json(res, 404, { code: 'NOT_FOUND' });
    const [, id, messages] = m;
    if (!id && req.method === 'POST') {
      const c = {
        id: (next++).toString(16).padStart(24, '0'),
        userId: body.userId,
        title: body.title,
        version: 1,
        messages: body.messages ?? [],
      };
      conversations.set(c.id, c);
      return json(res, 201, c);
    }
    if (!id && req.method === 'GET')
      return json(res, 200, { items: [...conversations.values()].filter((c) => c.userId === url.searchParams.get('userId')) });
    const c = id ? conversations.get(id) : undefined;
    if (!c) return json(res, 404, { code: 'NOT_FOUND' });
    if (messages && req.method === 'POST') {
      c.messages.push(body);
      c.version++;
      return json(res, 201, c);
    }
    if (req.method === 'GET') return json(res, 200, c);
    if (req.method === 'DELETE') {
      conversations.delete(c.id);
      return json(res, 204);
    }
    return json(res, 405, { code: 'METHOD_NOT_ALLOWED' });
  }
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    options,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
