/**
 * The image's HEALTHCHECK: `node dist/src/health/probe.js` asks this container's own process whether
 * it is ready and exits 0 (ready) or 1. A worker (WORKER_HEALTH_PORT set) is asked on its health
 * listener, the API on PORT; so one image serves both, and WORKER_HEALTH_PORT belongs on worker
 * containers only. `node dist/src/health/probe.js URL` asks another address.
 */
import { request } from 'node:http';
import { Env, EnvReader } from '../config/env-reader';

export const PROBE_TIMEOUT_MS = 4000;

/** The readiness URL of this container's process, or the problems of its port settings. */
export function probeUrl(env: Env): string {
  const r = new EnvReader(env);
  const workerPort = r.int('WORKER_HEALTH_PORT', 0, 0, 65535);
  const apiPort = r.int('PORT', 3000, 0, 65535);
  if (r.problems.length > 0) throw new Error(r.problems.join('; '));
  return `http://127.0.0.1:${workerPort > 0 ? workerPort : apiPort}/health/ready`;
}

export function probe(url: string, timeoutMs = PROBE_TIMEOUT_MS): Promise<{ ready: boolean; detail: string }> {
  return new Promise((resolve) => {
    const req = request(url, { method: 'GET', timeout: timeoutMs }, (res) => {
      res.resume();
      resolve({ ready: res.statusCode === 200, detail: `${url}: HTTP ${res.statusCode}` });
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (err) => resolve({ ready: false, detail: `${url}: ${err.message}` }));
    req.end();
  });
}

if (require.main === module) {
  (async () => {
    const { ready, detail } = await probe(process.argv[2] ?? probeUrl(process.env));
    if (!ready) process.stderr.write(`not ready: ${detail}\n`);
    process.exit(ready ? 0 : 1);
  })().catch((err) => {
    process.stderr.write(`probe failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
