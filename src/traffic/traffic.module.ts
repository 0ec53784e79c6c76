import { Global, Module } from '@nestjs/common';
import type { AppConfig } from '../config/app-config';
import { APP_CONFIG } from '../config/config.module';
import { NoneTrafficRouter } from './none-traffic.router';
import { TRAFFIC_ROUTER } from './traffic-router.port';
import { TrafficService } from './traffic.service';

@Global()
@Module({
  providers: [
    {
      provide: TRAFFIC_ROUTER,
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => {
        if (config.traffic.provider === 'none') return new NoneTrafficRouter();
        throw new Error('TRAFFIC_PROVIDER=route53 is not available yet (issue 7); use none');
      },
    },
    TrafficService,
  ],
  exports: [TRAFFIC_ROUTER, TrafficService],
})
export class TrafficModule {}
