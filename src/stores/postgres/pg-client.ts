/**
 * The pg client every PostgreSQL pool of the service makes (TypeORM's, through `extra.Client`, and the wings' own,
 * through Connections.postgresPool).
 *
 * A pg client emits 'error' when its session ends under it: a restart, a failover, pg_terminate_backend (FATAL
 * 57P01), a dropped socket. An 'error' event nobody listens to ends the Node process. pg-pool listens while a client
 * is idle, and takes its listener off when it hands the client out; whoever took it must listen until it gives it
 * back. TypeORM's query runner does, but only a few microtasks after the pool handed the client over, and a new
 * connection is handed over from inside the parsing of the socket's data: when the server's FATAL arrives in the
 * same read as the connection's first ReadyForQuery, the client emits it with nobody listening. The test that ends
 * every session again and again under load (test/pg-sessions-ended.test.ts) killed an API replica that way in every
 * run, until this client.
 *
 * So this client always listens. The listener does nothing more: the client has already made itself unusable (its
 * queries fail at once, "not queryable"), its holder sees that failure, and pg-pool drops a client in that state when
 * it comes back instead of handing it out again.
 */
import { Client, ClientConfig } from 'pg';

export class ListenedClient extends Client {
  constructor(config?: string | ClientConfig) {
    super(config);
    this.on('error', () => undefined);
  }
}
