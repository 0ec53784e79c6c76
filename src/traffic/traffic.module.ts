import { Global, Inject, Logger, Module, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import type { RedisClient } from '../stores/redis';
import { DataSource } from 'typeorm';
import { route53SettingsFromConfig, TRAFFIC_CONFIG, TrafficConfig } from './traffic.config';
import { MetricsService } from '../common/metrics/metrics.service';
import { Connections } from '../stores/connections';
import { DATA_SOURCE } from '../stores/stores.module';
import { NoneTrafficRouter } from './none-traffic.router';
import { describeProviderError } from './route53/route53-errors';
import { Route53TrafficRouter } from './route53/route53-traffic.router';
import { TRAFFIC_ROUTER } from './traffic-router.port';
import { registerTrafficGauges } from './traffic-metrics';
import { TrafficQueue } from './traffic.queue';
import { TrafficService } from './traffic.service';

const TRAFFIC_QUEUE_REDIS = Symbol('TRAFFIC_QUEUE_REDIS');

@Global()
@Module({
  providers: [
    {
      provide: TRAFFIC_ROUTER,
      inject: [TRAFFIC_CONFIG, DATA_SOURCE],
      useFactory: (traffic: TrafficConfig, dataSource: DataSource) => {
        if (traffic.provider === 'none') return new NoneTrafficRouter(dataSource);
        const logger = new Logger('Route53');
        return new Route53TrafficRouter(route53SettingsFromConfig(traffic), undefined, {
          onRetry: ({ what, attempt, delayMs, error }) =>
            logger.warn({ msg: `${what}: retrying`, attempt, delayMs, error: describeProviderError(error) }),
        });
      },
    },
    {
      provide: TRAFFIC_QUEUE_REDIS,
      inject: [Connections],
      useFactory: (connections: Connections) =>
        connections.redisFailFast({ commandTimeout: undefined, enableOfflineQueue: true, maxRetriesPerRequest: 2 }),
    },
    {
      provide: TrafficQueue,
      inject: [TRAFFIC_QUEUE_REDIS, Connections],
      useFactory: (r: RedisClient, c: Connections) => new TrafficQueue(r, c.keyPrefix),
    },
    TrafficService,
  ],
  exports: [TRAFFIC_ROUTER, TrafficService],
})
export class TrafficModule implements OnApplicationBootstrap, OnApplicationShutdown {
  constructor(
    @Inject(TRAFFIC_QUEUE_REDIS) private readonly redis: RedisClient,
    @Inject(TrafficQueue) private readonly queue: TrafficQueue,
    @Inject(MetricsService) private readonly metrics: MetricsService,
    @Inject(TrafficService) private readonly traffic: TrafficService,
  ) {}

  onApplicationBootstrap(): void {
    registerTrafficGauges(this.metrics, this.traffic);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.queue.close();
    this.redis.disconnect();
  }
}
