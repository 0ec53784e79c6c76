import { Global, Inject, Module, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { APP_INTERCEPTOR } from '@nestjs/core';
import { MetricsService } from '../common/metrics/metrics.service';
import { ConversationStore, LEGACY_STORE, NEW_STORE } from '../stores/conversation-store.port';
import { Connections } from '../stores/connections';
import { SHADOW_CONFIG, SHADOW_GATE_VIEW, ShadowConfig, ShadowGateView } from './shadow.config';
import { HttpLegacyApiClient, LEGACY_API } from './legacy-api.client';
import { ShadowComparer } from './shadow-comparer.service';
import { registerShadowGauges } from './shadow-metrics';
import { SHADOW_READ_PORT, StoreShadowReader } from './shadow-read.port';
import { ShadowQueue } from './shadow-queue';
import { ShadowSampler } from './shadow-sampler';
import { ShadowSamplingInterceptor } from './shadow-sampling.interceptor';
import { ShadowStatusService } from './shadow-status.service';
import { ShadowController } from './shadow.controller';
import { ShadowProcessor } from './shadow.processor';
import { ShadowRepository } from './shadow.repository';

/**
 * Shadow comparison. Global so that the conversation controller's sampling interceptor finds the sampler
 * and the phase gates find ShadowStatusService.mismatchRate without importing this module.
 * The API uses the sampler, the status service and the controller; a worker uses the processor.
 */
@Global()
@Module({
  controllers: [ShadowController],
  providers: [
    {
      provide: ShadowQueue,
      inject: [Connections, SHADOW_CONFIG],
      useFactory: (connections: Connections, shadow: ShadowConfig) =>
        new ShadowQueue(connections.redisFailFast({ commandTimeout: undefined }), connections.keyPrefix, shadow.queueMax),
    },
    {
      provide: SHADOW_READ_PORT,
      inject: [LEGACY_STORE, NEW_STORE],
      useFactory: (legacy: ConversationStore, newStore: ConversationStore) => new StoreShadowReader({ legacy, new: newStore }),
    },
    { provide: LEGACY_API, inject: [SHADOW_CONFIG], useFactory: (shadow: ShadowConfig) => new HttpLegacyApiClient(shadow.mirror) },
    ShadowRepository,
    ShadowSampler,
    ShadowComparer,
    ShadowStatusService,
    ShadowProcessor,
    ShadowSamplingInterceptor,
    // Acts only on handlers marked @Shadowed (the API's marker), so the API need not import shadow/.
    { provide: APP_INTERCEPTOR, useExisting: ShadowSamplingInterceptor },
  ],
  exports: [
    ShadowQueue,
    ShadowSampler,
    ShadowStatusService,
    ShadowComparer,
    ShadowProcessor,
    ShadowSamplingInterceptor,
    SHADOW_READ_PORT,
    LEGACY_API,
  ],
})
export class ShadowModule implements OnApplicationBootstrap, OnApplicationShutdown {
  constructor(
    @Inject(ShadowQueue) private readonly queue: ShadowQueue,
    @Inject(MetricsService) private readonly metrics: MetricsService,
    @Inject(ShadowStatusService) private readonly status: ShadowStatusService,
    @Inject(SHADOW_GATE_VIEW) private readonly gate: ShadowGateView,
  ) {}

  onApplicationBootstrap(): void {
    registerShadowGauges(this.metrics, this.status, this.gate.analysisWindowMs);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.queue.close();
  }
}
