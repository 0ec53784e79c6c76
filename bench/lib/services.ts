/** Connection settings of the local services (`.env.local`, written by `npm run services:up`). */
import * as path from 'node:path';
import { environmentWithEnvFile } from '../../src/config/env-file';
import type { Env } from '../../src/config/env-reader';

export const ROOT = path.resolve(__dirname, '../..');

export function servicesEnv(): Env {
  const env = environmentWithEnvFile(process.env, path.join(ROOT, '.env.local'));
  for (const key of ['DATABASE_URL', 'LEGACY_MONGO_URL', 'REDIS_URL']) {
    if (!env[key]) throw new Error(`${key} is not set: run \`npm run services:up\` (npm run bench does it for you)`);
  }
  return env;
}

export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}
