import { Global, Module } from '@nestjs/common';
import { AppConfig, loadConfig } from './app-config';
import { environmentWithEnvFile } from './config/env-file';

export const APP_CONFIG = Symbol('APP_CONFIG');

@Global()
@Module({})
export class ConfigModule {
  /** `config` lets tests and scripts pass an already-built config; otherwise the environment is read once. */
  static forRoot(config?: AppConfig) {
    return {
      module: ConfigModule,
      providers: [{ provide: APP_CONFIG, useValue: config ?? loadConfig(environmentWithEnvFile()) }],
      exports: [APP_CONFIG],
    };
  }
}
