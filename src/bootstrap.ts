import { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module';
import { AppConfig, loadConfig } from './app-config';
import { environmentWithEnvFile } from './config/env-file';
import { nestLogger } from './common/logging/logging.module';
import { createRootLogger, LogOutput } from './common/logging/root-logger';
import { configureHttp } from './http/http-setup';

export interface ApiAppOptions {
  /** `false`: not a line (tests); otherwise JSON lines from LOG_LEVEL on stdout, or as given here. */
  logger?: false | Partial<LogOutput>;
}

/** Builds the API application; used by main.ts and by the integration tests alike. */
export async function createApiApp(config: AppConfig, options: ApiAppOptions = {}): Promise<INestApplication> {
  const root = options.logger === false ? null : createRootLogger({ level: config.app.logLevel, ...options.logger });
  const app = await NestFactory.create(AppModule.forRoot(config, root ?? { level: 'silent' }), {
    bodyParser: false,
    logger: root ? nestLogger(root) : false,
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
