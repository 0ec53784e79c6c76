/**
 * The rig of the tests that need more than one API process: a private set of servers (startPrivateServices), the
 * migrations applied, and API replicas and a worker as processes on them (the history checker's Cluster), with a
 * small PostgreSQL pool for the test's own queries. Whatever started is stopped again if a later step fails.
 */
import * as path from 'node:path';
import type { DataSource } from 'typeorm';
import { createDataSource } from '../../src/stores/postgres/data-source';
import { ROOT } from './env';
import { Cluster } from './history/cluster';
import { PrivateServices, startPrivateServices } from './private-services';

export interface PrivateCluster {
  services: PrivateServices;
  cluster: Cluster;
  /** PostgreSQL as the test sees it (not through the API). */
  ds: DataSource;
  /** Stops the processes, then the servers. */
  close(): Promise<void>;
}

/**
 * `name`: the build folder under .local; `env`: for every process (the initial phase, above all), or made from the
 * servers once they run (a proxy in front of one of them, say); `workers`: worker processes, each serving every queue.
 */
export async function startPrivateCluster(
  name: string,
  env: Record<string, string> | ((services: PrivateServices) => Promise<Record<string, string>>),
  replicas = 2,
  workers = 1,
): Promise<PrivateCluster> {
  const services = await startPrivateServices();
  const ds = createDataSource({ url: services.env.DATABASE_URL, poolSize: 2 });
  let cluster: Cluster | undefined;
  const close = async () => {
    await cluster?.stop();
    await ds.destroy().catch(() => undefined);
    await services.down();
  };
  try {
    await ds.initialize();
    await ds.runMigrations({ transaction: 'each' });
    const processEnv = typeof env === 'function' ? await env(services) : env;
    cluster = await Cluster.start(services.env, replicas, path.join(ROOT, `.local/${name}/build`), processEnv, workers);
    return { services, cluster, ds, close };
  } catch (err) {
    await close().catch(() => undefined);
    throw err;
  }
}
