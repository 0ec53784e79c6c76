import { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module';
import { AppConfig, loadConfig } from './app-config';
import { environmentWithEnvFile } from './config/env-file';
import { JsonLogger } from './common/logger';
import { configureHttp } from './http/http-setup';

/** Builds the API application; used by main.ts and by the integration tests alike. */
export async function createApiApp(config: AppConfig, options: { logger?: JsonLogger | false } = {}): Promise<INestApplication> {
  const app = await NestFactory.create(AppModule.forRoot(config), {
    bodyParser: false,
    logger: options.logger === undefined ? new JsonLogger(config.app.logLevel) : options.logger,
    abortOnError: false,
  });
  configureHttp(app, config);
  return app;
}

/** Reads and validates the configuration or ends the process with one message naming every bad variable. */
export function configOrExit(): AppConfig {
  try {
    return loadConfig(environmentWithEnvFile());
  } catch (err) {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  }
}
