/**
 * The worker process's small HTTP listener (WORKER_HEALTH_PORT; none by default): what the Kubernetes
 * probes, the image's HEALTHCHECK and Prometheus need from a process that otherwise serves no HTTP.
 *   GET /health/live   the process is running
 *   GET /health/ready  PostgreSQL, the legacy store and Redis answer, and the BullMQ worker of every
 *                      queue this process serves is taking jobs (503 naming what is not)
 *   GET /metrics       this process's Prometheus registry (the shadow, repair and sync counters move here)
 * Plain node:http: a worker has no Express, and these three routes need none.
 */
import { Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import type { Server, ServerResponse } from 'node:http';
import { closeServer, listenRoutes, sendJson } from '../common/http-listener';
import type { QueueState } from '../queues/worker-host';
import { CheckResult, downChecks } from './readiness';

export interface WorkerHealthSources {
  stores(): Promise<Record<string, CheckResult>>;
  queues(): QueueState[];
  metrics(): Promise<{ contentType: string; body: string }>;
}

export class WorkerHealthServer implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('WorkerHealth');
  private server: Server | undefined;

  /** `port` null: no listener; 0: any free port (tests). */
  constructor(
    private readonly port: number | null,
    private readonly sources: WorkerHealthSources,
    private readonly host = '0.0.0.0',
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (this.port !== null) await this.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.stop();
  }

  /** Listens; resolves with the port bound. */
  async start(): Promise<number> {
    if (this.port === null) throw new Error('the worker health listener has no port');
    const { server, port } = await listenRoutes(
      this.port,
      this.host,
      {
        '/health/live': async (_req, res) => sendJson(res, 200, { status: 'ok' }),
        '/health/ready': async (_req, res) => this.ready(res),
        '/metrics': async (_req, res) => {
          const { contentType, body } = await this.sources.metrics();
          res.writeHead(200, { 'Content-Type': contentType }).end(body);
        },
      },
      (err) => this.logger.error({ msg: 'health request failed', error: err.message }),
    );
    this.server = server;
    this.logger.log({ msg: 'health listener started', port });
    return port;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    await closeServer(server);
  }

  private async ready(res: ServerResponse): Promise<void> {
    const checks = await this.sources.stores();
    const queues = this.sources.queues();
    const down = [...downChecks(checks), ...queues.filter((q) => !q.running).map((q) => `queue:${q.queue}`)];
    if (queues.length === 0) down.push('queues:none');
    sendJson(
      res,
      down.length === 0 ? 200 : 503,
      down.length === 0 ? { status: 'ready', checks, queues } : { status: 'not_ready', down, checks, queues },
    );
  }
}
