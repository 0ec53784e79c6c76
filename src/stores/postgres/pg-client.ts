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
 *
 * It also asks for TCP keepalives on both ends of its connection. A host that dies or drops off the network sends
 * nothing more, not even a FIN: without keepalives, PostgreSQL keeps its sessions for about two hours (the kernel's
 * default), with what they hold (the write fence of a write in flight, a conversation's row, a catch-up pass's
 * lock), and a process keeps waiting on a server gone the same way. With them, PostgreSQL ends the session of a
 * silent peer about two minutes after its last word (KEEPALIVE), and the process gives up on a silent server after
 * the first probe's 60 s and the kernel's probes (on Linux, 9 at 75 s). A process that is only frozen still answers
 * keepalives (its kernel does) and keeps its sessions: ending those is the lease holders' business. An `options` in
 * the connection string replaces these; a pooler must pass `options` through (docs/runbook.md).
 */
import { Client, ClientConfig } from 'pg';

/** First probe after 60 s of silence, then one every 10 s; the connection is dropped after 6 unanswered. */
const KEEPALIVE = { idleS: 60, intervalS: 10, count: 6 };

const SERVER_KEEPALIVES = `-c tcp_keepalives_idle=${KEEPALIVE.idleS} -c tcp_keepalives_interval=${KEEPALIVE.intervalS} -c tcp_keepalives_count=${KEEPALIVE.count}`;

export class ListenedClient extends Client {
  constructor(config?: string | ClientConfig) {
    const given: ClientConfig = typeof config === 'string' ? { connectionString: config } : { ...config };
    super({
      keepAlive: true,
      keepAliveInitialDelayMillis: KEEPALIVE.idleS * 1000,
      ...given,
      options: given.options ? `${SERVER_KEEPALIVES} ${given.options}` : SERVER_KEEPALIVES,
    });
    this.on('error', () => undefined);
  }
}
