import * as http from 'node:http';
import { startTestApp, TestApp } from './support/app';

describe('HTTP skeleton', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => t?.close());

  const expectErrorShape = (body: any, status: number, code: string) => {
    expect(body).toEqual({
      statusCode: status,
      code,
      message: expect.any(String),
      requestId: expect.any(String),
      ...(body.errors ? { errors: body.errors } : {}),
    });
  };

  it('answers unknown routes with the error shape and a request id', async () => {
    const res = await t.request('GET', '/no-such-route');
    expect(res.status).toBe(404);
    expectErrorShape(res.body, 404, 'NOT_FOUND');
    expect(res.headers.get('x-request-id')).toBe(res.body.requestId);
  });

  it('keeps a harmless caller request id', async () => {
    const res = await t.request('GET', '/no-such-route', { headers: { 'x-request-id': 'trace-123' } });
    expect(res.body.requestId).toBe('trace-123');
  });

  it('refuses bodies over 1 MiB with 413', async () => {
    const res = await t.request('POST', '/conversations', {
      rawBody: JSON.stringify({ userId: 'u', title: 'x'.repeat(1024 * 1024) }),
      headers: { 'content-type': 'application/json' },
    });
    expect(res.status).toBe(413);
    expectErrorShape(res.body, 413, 'PAYLOAD_TOO_LARGE');
  });

  it('rejects unknown fields instead of dropping them', async () => {
    const res = await t.request('POST', '/conversations', { body: { userId: 'u', colour: 'blue' } });
    expect(res.status).toBe(400);
    expect(res.body.errors).toEqual([{ field: 'colour', message: 'is not an accepted field' }]);
  });

  it('serves Prometheus metrics with process and HTTP figures on the metrics port only, not on the API port', async () => {
    const text = await t.metrics();
    expect(text).toContain('process_cpu_user_seconds_total');
    expect(text).toContain('http_request_duration_seconds_bucket');
    for (const token of [null, undefined]) {
      const res = await t.request('GET', '/metrics', { token });
      expect(res.status).toBe(404);
    }
  });

  it('answers 431 to headers beyond MAX_HEADER_BYTES, and keeps serving', async () => {
    const res = await t.request('GET', '/health/live', { headers: { 'x-filler': 'x'.repeat(t.config.app.maxHeaderBytes + 1) } });
    expect(res.status).toBe(431);
    expect((await t.request('GET', '/health/live')).status).toBe(200);
  });

  it("keeps an idle kept-alive connection open past Node's 5 s default (HTTP_KEEP_ALIVE_TIMEOUT_MS, 65 s)", async () => {
    expect(t.config.app.keepAliveTimeoutMs).toBe(65_000);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const get = () =>
      new Promise<{ status: number; reused: boolean }>((resolve, reject) => {
        const req = http.get(`${t.url}/health/live`, { agent }, (res) => {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode ?? 0, reused: req.reusedSocket }));
        });
        req.on('error', reject);
      });
    try {
      expect(await get()).toEqual({ status: 200, reused: false });
      // Idle longer than Node's default keep-alive timeout: with it, the server would have closed the socket.
      await new Promise((r) => setTimeout(r, 6_000));
      expect(await get()).toEqual({ status: 200, reused: true });
    } finally {
      agent.destroy();
    }
  }, 20_000);
});
