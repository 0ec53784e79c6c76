import { DataSource } from 'typeorm';
import { MIGRATIONS } from '../../../migrations';
import { ListenedClient } from './pg-client';

export interface DataSourceOptions {
  url: string;
  poolSize?: number;
  statementTimeoutMs?: number;
  /** PostgreSQL's client_connection_check_interval for our sessions (stores.config.ts `clientCheckMs`); 0 or unset: off. */
  clientCheckMs?: number;
  applicationName?: string;
}

/** The one TypeORM DataSource of a process: schema only through migrations, never `synchronize`. */
export function createDataSource(options: DataSourceOptions): DataSource {
  return new DataSource({
    type: 'postgres',
    url: options.url,
    synchronize: false,
    migrationsRun: false,
    migrations: MIGRATIONS,
    migrationsTableName: 'schema_migrations',
    logging: false,
    extra: {
      max: options.poolSize ?? 20,
      statement_timeout: options.statementTimeoutMs ?? 30000,
      application_name: options.applicationName ?? 'legacy-migration-service',
      connectionTimeoutMillis: 5000,
      // A startup option, as statement_timeout is: set on every session before its first statement.
      ...(options.clientCheckMs ? { options: `-c client_connection_check_interval=${Math.floor(options.clientCheckMs)}` } : {}),
      Client: ListenedClient,
    },
  });
}
