import { Inject, Module, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import * as path from 'node:path';
import { AUTH_CONFIG, AuthConfig } from '../common/auth/auth.config';
import { SERVER_CONFIG, ServerConfig } from '../common/server.config';
import { Connections } from '../stores/connections';
import { TokenAuthenticator } from '../common/auth/token-authenticator';
import { defaultBundleDir, loadBundle } from './dashboard-bundle';
import { DashboardController } from './dashboard.controller';
import { DASHBOARD_BUNDLE } from './dashboard.tokens';
import { QueuesBoard, queuesAuth, QUEUES_PATH } from './queues-board';
import { QueuesSessions } from './queues-session';

/**
 * The operator dashboard (/dashboard, a bundle built by `npm run build`) and the bull-board queue view
 * (/queues). API process only: the worker has no HTTP server.
 */
@Module({
  controllers: [DashboardController],
  providers: [
    { provide: DASHBOARD_BUNDLE, useFactory: () => loadBundle(defaultBundleDir()) },
    { provide: QueuesSessions, inject: [AUTH_CONFIG], useFactory: (auth: AuthConfig) => new QueuesSessions(auth.tokens) },
    {
      provide: QueuesBoard,
      inject: [Connections],
      useFactory: (connections: Connections) =>
        new QueuesBoard(
          () => connections.redisFailFast({ commandTimeout: 5000 }),
          connections.keyPrefix,
          path.join(defaultBundleDir(), 'queues-views'),
        ),
    },
  ],
})
export class DashboardModule implements OnModuleInit, OnApplicationShutdown {
  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly board: QueuesBoard,
    private readonly sessions: QueuesSessions,
    @Inject(AUTH_CONFIG) private readonly auth: AuthConfig,
    @Inject(SERVER_CONFIG) private readonly server: ServerConfig,
  ) {}

  /** Runs after Nest has registered its routes and before its not-found handler, so /queues is reached. */
  onModuleInit(): void {
    const express = this.adapterHost.httpAdapter.getInstance();
    express.use(QUEUES_PATH, queuesAuth(new TokenAuthenticator({ auth: this.auth, app: this.server }), this.sessions), this.board.router);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.board.close();
  }
}
