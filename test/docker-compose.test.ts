import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { ROOT } from './support/env';

const run = promisify(execFile);

describe('docker-compose.yml', () => {
  it('is a valid compose file with the stores, the API and a worker, each with a health check', async () => {
    const { stdout } = await run('docker-compose', ['-f', 'docker-compose.yml', 'config'], { cwd: ROOT, timeout: 60_000 });
    for (const service of ['mongo:', 'postgres:', 'redis:', 'api:', 'worker:']) expect(stdout).toContain(`  ${service}`);
    expect(stdout).toContain('image: mongo:7');
    expect((stdout.match(/healthcheck:/g) ?? []).length).toBeGreaterThanOrEqual(5);
    // The API and the worker both answer the image's probe; the worker on its health listener.
    expect((stdout.match(/- dist\/src\/health\/probe\.js/g) ?? []).length).toBe(2);
    expect(stdout).toMatch(/WORKER_HEALTH_PORT: '9464'|WORKER_HEALTH_PORT: "9464"/);
  });
});
