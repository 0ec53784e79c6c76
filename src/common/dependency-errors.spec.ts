import { MongoNetworkError, MongoServerError, MongoServerSelectionError, MongoWriteConcernError } from 'mongodb';
import { QueryFailedError, QueryRunnerAlreadyReleasedError, QueryRunnerProviderAlreadyReleasedError } from 'typeorm';
import { ConnectionLostError } from './connection-loss';
import { unavailableDependency } from './dependency-errors';

/** Errors as the drivers build them (constructed here, not thrown by a server). */
function socketError(code: string): Error {
  return Object.assign(new Error(`connect ${code} 127.0.0.1:5432`), { code, errno: -111, syscall: 'connect' });
}

describe('unavailableDependency', () => {
  it('names the legacy store for the mongodb driver connection errors', () => {
    expect(unavailableDependency(new MongoNetworkError('connection 3 to 127.0.0.1:27017 closed'))).toBe('legacy');
    expect(unavailableDependency(new MongoServerSelectionError('Server selection timed out after 3000 ms', {} as never))).toBe('legacy');
    // A majority did not confirm the write in time: not a refusal of the request, and a retry may pass.
    const wtimeout = {
      ok: 1,
      n: 1,
      writeConcernError: { code: 64, codeName: 'WriteConcernFailed', errmsg: 'waiting for replication timed out' },
    };
    expect(unavailableDependency(new MongoWriteConcernError(wtimeout as never))).toBe('legacy');
  });

  it('leaves a query the legacy server refused alone', () => {
    expect(unavailableDependency(new MongoServerError({ message: 'E11000 duplicate key', code: 11000 }))).toBeNull();
  });

  it('names the new store for socket errors, connection SQLSTATEs and pool timeouts, also inside TypeORM errors', () => {
    expect(unavailableDependency(socketError('ECONNREFUSED'))).toBe('new');
    expect(unavailableDependency(Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }))).toBe(
      'new',
    );
    expect(unavailableDependency(Object.assign(new Error('connection failure'), { code: '08006' }))).toBe('new');
    expect(unavailableDependency(new Error('Connection terminated unexpectedly'))).toBe('new');
    expect(unavailableDependency(new Error('timeout exceeded when trying to connect'))).toBe('new');
    expect(unavailableDependency(new QueryFailedError('SELECT 1', [], socketError('ECONNRESET')))).toBe('new');
    expect(unavailableDependency(new Error('outer', { cause: socketError('ECONNREFUSED') }))).toBe('new');
    // A fenced write's transaction whose connection PostgreSQL dropped under it.
    expect(unavailableDependency(new QueryRunnerAlreadyReleasedError())).toBe('new');
    // The same through an EntityManager bound to that runner (a repository given the fenced transaction's manager).
    expect(unavailableDependency(new QueryRunnerProviderAlreadyReleasedError())).toBe('new');
    // The same, with the client's own error put in its place (common/connection-loss.ts), whatever that error was.
    expect(unavailableDependency(new ConnectionLostError(new Error('the client went away')))).toBe('new');
  });

  it('leaves query errors alone (a constraint, a syntax error, a statement timeout)', () => {
    expect(unavailableDependency(Object.assign(new Error('duplicate key value'), { code: '23505' }))).toBeNull();
    expect(unavailableDependency(Object.assign(new Error('syntax error'), { code: '42601' }))).toBeNull();
    expect(unavailableDependency(Object.assign(new Error('canceling statement due to statement timeout'), { code: '57014' }))).toBeNull();
    expect(unavailableDependency(new TypeError('x is undefined'))).toBeNull();
    expect(unavailableDependency('a string')).toBeNull();
    expect(unavailableDependency(null)).toBeNull();
  });

  it('names Redis for ioredis refusing a command', () => {
    expect(unavailableDependency(new Error("Stream isn't writeable and enableOfflineQueue options is false"))).toBe('redis');
    expect(
      unavailableDependency(Object.assign(new Error('Reached the max retries per request limit'), { name: 'MaxRetriesPerRequestError' })),
    ).toBe('redis');
  });

  it('does not blame a store for a failed call to Route 53, S3 or the legacy API', () => {
    expect(unavailableDependency(new TypeError('fetch failed', { cause: socketError('ECONNREFUSED') }))).toBeNull();
    expect(unavailableDependency(Object.assign(socketError('ECONNREFUSED'), { $metadata: { attempts: 1 } }))).toBeNull();
  });

  it('survives a cause cycle', () => {
    const a: Error & { cause?: unknown } = new Error('a');
    a.cause = new Error('b', { cause: a });
    expect(unavailableDependency(a)).toBeNull();
  });
});
