/**
 * Errors that mean a backing service could not be reached, as opposed to a bug or a refused query:
 * the same request may well succeed a moment later, so the client gets 503 with Retry-After rather
 * than 500. Recognised by the drivers' error names and codes (walking `cause` and TypeORM's
 * `driverError`), without importing the drivers: common/ depends on no adapter.
 */
export type Dependency = 'legacy' | 'new' | 'redis';

export const DEPENDENCY_LABEL: Record<Dependency, string> = {
  legacy: 'The legacy store (MongoDB)',
  new: 'The new store (PostgreSQL)',
  redis: 'Redis',
};

/**
 * The official mongodb driver's connection-level errors (a query error is a MongoServerError), and a write concern
 * error: the primary took the write but a majority did not confirm it in time (stores/mongo/legacy-concerns.ts), a
 * replica set that cannot keep up or has lost members; the write may or may not survive, and a retry may well pass.
 */
const MONGO_UNREACHABLE = new Set([
  'MongoWriteConcernError',
  'MongoNetworkError',
  'MongoNetworkTimeoutError',
  'MongoServerSelectionError',
  'MongoNotConnectedError',
  'MongoTopologyClosedError',
  'MongoPoolClearedError',
  'MongoServerClosedError',
]);

/** Socket errors `pg` passes through as they are. */
const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

/**
 * PostgreSQL SQLSTATEs of a server that is going away or cannot take the connection: class 08
 * (connection exception), 57P01..57P03 (admin/crash shutdown, cannot connect now), 53300 (too many connections).
 */
const PG_UNAVAILABLE_STATE = /^(08...|57P0[123]|53300)$/;

/** What `pg` and its pool say when the socket went away or no connection came in time. */
const PG_MESSAGES = [
  'Connection terminated',
  'timeout exceeded when trying to connect',
  'Client has encountered a connection error and is not queryable',
  'Connection terminated due to connection timeout',
];

/**
 * TypeORM's query runner after its connection broke: TypeORM releases the runner when the client reports
 * an error (PostgreSQL went away mid-transaction), and every later query on it fails with the first, or the second
 * through an EntityManager bound to it (a flip's settle under the fence met it, a 500 until it was listed here); the
 * third is either with the client's own error in its place (common/connection-loss.ts).
 */
const PG_NAMES = new Set(['QueryRunnerAlreadyReleasedError', 'QueryRunnerProviderAlreadyReleasedError', 'ConnectionLostError']);

/** ioredis, when it cannot send a command (offline queue off, retries used up, connection closed). */
const REDIS_NAMES = new Set(['MaxRetriesPerRequestError']);
const REDIS_MESSAGES = ["Stream isn't writeable and enableOfflineQueue options is false", 'Connection is closed.'];

interface ErrorLike {
  name?: unknown;
  code?: unknown;
  message?: unknown;
  cause?: unknown;
  driverError?: unknown;
}

function classifyOne(e: ErrorLike): Dependency | null {
  const name = typeof e.name === 'string' ? e.name : '';
  const message = typeof e.message === 'string' ? e.message : '';
  if (MONGO_UNREACHABLE.has(name)) return 'legacy';
  if (REDIS_NAMES.has(name) || REDIS_MESSAGES.includes(message)) return 'redis';
  if (typeof e.code === 'string' && (SOCKET_CODES.has(e.code) || PG_UNAVAILABLE_STATE.test(e.code))) return 'new';
  if (PG_NAMES.has(name) || PG_MESSAGES.some((m) => message.startsWith(m))) return 'new';
  return null;
}

/**
 * An AWS SDK error (it carries `$metadata`) or a failed `fetch`: a call to Route 53, S3 or the legacy
 * API, which handle their own failures; their socket errors say nothing about the stores.
 */
function isOutboundHttp(e: ErrorLike & { $metadata?: unknown }): boolean {
  return e.$metadata !== undefined || (e.name === 'TypeError' && e.message === 'fetch failed');
}

/** The dependency an error says is unreachable, or null for any other error. */
export function unavailableDependency(err: unknown): Dependency | null {
  const seen = new Set<unknown>();
  const pending: unknown[] = [err];
  while (pending.length > 0) {
    const e = pending.shift();
    if (e === null || typeof e !== 'object' || seen.has(e) || isOutboundHttp(e)) continue;
    seen.add(e);
    const found = classifyOne(e);
    if (found) return found;
    pending.push((e as ErrorLike).driverError, (e as ErrorLike).cause);
  }
  return null;
}
