import { createServer, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { probe, probeUrl } from './probe';

describe('probeUrl', () => {
  it('asks the worker health listener when WORKER_HEALTH_PORT is set, else the API port', () => {
    expect(probeUrl({})).toBe('http://127.0.0.1:3000/health/ready');
    expect(probeUrl({ PORT: '8080' })).toBe('http://127.0.0.1:8080/health/ready');
    expect(probeUrl({ PORT: '8080', WORKER_HEALTH_PORT: '9464' })).toBe('http://127.0.0.1:9464/health/ready');
    expect(probeUrl({ PORT: '8080', WORKER_HEALTH_PORT: '0' })).toBe('http://127.0.0.1:8080/health/ready');
  });

  it('refuses a port setting that is not a port', () => {
    expect(() => probeUrl({ WORKER_HEALTH_PORT: 'nine' })).toThrow('WORKER_HEALTH_PORT: must be an integer, got "nine"');
  });
});

describe('probe', () => {
  let server: Server;
  let status = 200;
  let url: string;

  beforeAll(async () => {
    server = createServer((_req, res) => res.writeHead(status).end('{}'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/health/ready`;
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  it('is ready only on 200', async () => {
    status = 200;
    expect(await probe(url)).toEqual({ ready: true, detail: `${url}: HTTP 200` });
    status = 503;
    expect(await probe(url)).toEqual({ ready: false, detail: `${url}: HTTP 503` });
  });

  it('is not ready when nothing listens', async () => {
    const result = await probe('http://127.0.0.1:1/health/ready', 1000);
    expect(result.ready).toBe(false);
    expect(result.detail).toMatch(/ECONNREFUSED/);
  });
});
