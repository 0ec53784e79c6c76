/**
 * Why a query runner's connection broke. When PostgreSQL ends a session while its transaction waits on something
 * else (the legacy half of a dual write, a lock held across work), `pg` reports the error on the client, TypeORM
 * releases the runner, and every later query on it fails with QueryRunnerAlreadyReleasedError (or, through an
 * EntityManager bound to it, QueryRunnerProviderAlreadyReleasedError), which says nothing of the cause.
 * `watchConnection` keeps the client's error, and `explain` puts it in place of that one: the failure then reads
 * "terminating connection due to administrator command" (a job's failed reason, a log line) and still classifies
 * as the new store being unavailable (common/dependency-errors.ts walks `cause`).
 */

/** What a `pg` client offers for its 'error' event (common/ imports no driver). */
export interface ErrorEmitter {
  on(event: 'error', listener: (err: Error) => void): unknown;
  removeListener(event: 'error', listener: (err: Error) => void): unknown;
}

/** A failure on a connection that PostgreSQL (or the network) ended; `cause` is the client's own error. */
export class ConnectionLostError extends Error {
  constructor(readonly lost: Error) {
    super(`the PostgreSQL connection was lost in the middle of a transaction: ${lost.message}`, { cause: lost });
    this.name = 'ConnectionLostError';
  }
}

/**
 * What TypeORM throws on a released runner: a query on the runner itself, or on an EntityManager bound to it (a
 * repository handed the fenced transaction's manager).
 */
const RELEASED = new Set(['QueryRunnerAlreadyReleasedError', 'QueryRunnerProviderAlreadyReleasedError']);

export interface ConnectionWatch {
  /** The error to throw for `err`: the connection's own error when `err` is only TypeORM's released runner. */
  explain(err: unknown): unknown;
  /** Stops listening (the client goes back to its pool and serves others). */
  detach(): void;
}

export function watchConnection(client: ErrorEmitter): ConnectionWatch {
  let lost: Error | null = null;
  const listener = (err: Error) => {
    lost ??= err;
  };
  client.on('error', listener);
  return {
    explain: (err) =>
      lost !== null && RELEASED.has(String((err as { name?: unknown } | null)?.name)) ? new ConnectionLostError(lost) : err,
    detach: () => client.removeListener('error', listener),
  };
}
