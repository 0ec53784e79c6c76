/**
 * The API's Prometheus endpoint, on a port of its own (METRICS_PORT, default 9464; 0: none), so that it is
 * never reachable through the public load balancer, which only forwards the API port. The Service exposes
 * it to the cluster as the `metrics` port, and the ServiceMonitor scrapes that.
 */
import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import type { Server } from 'node:http';
import { SERVER_CONFIG, ServerConfig } from '../server.config';
import { closeServer, listenRoutes } from '../http-listener';
import { MetricsService } from './metrics.service';

@Injectable()
export class MetricsListener implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('MetricsListener');
  private server?: Server;
  /** The port bound, once listening. */
  port?: number;

  constructor(
    @Inject(SERVER_CONFIG) private readonly settings: ServerConfig,
    private readonly metrics: MetricsService,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (this.settings.metricsPort === 0) return;
    const { server, port } = await listenRoutes(
      this.settings.metricsPort,
      '0.0.0.0',
      {
        '/metrics': async (_req, res) => {
          res.writeHead(200, { 'Content-Type': this.metrics.registry.contentType }).end(await this.metrics.registry.metrics());
        },
      },
      (err) => this.logger.error({ msg: 'metrics request failed', error: err.message }),
    );
    this.server = server;
    this.port = port;
    this.logger.log({ msg: 'metrics listener started', port });
  }

  async onApplicationShutdown(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    await closeServer(server);
  }
}
