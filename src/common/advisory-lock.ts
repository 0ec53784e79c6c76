/**
 * Every PostgreSQL advisory lock the service takes, by key, in one place, and the one way to take them: two
 * features picking the same number would silently serialise each other (or worse, one would release the
 * other's lock).
 *
 * Keys are decimal bigints (one is beyond a JavaScript number's exact range) and always cast to `bigint` in
 * SQL, so each is the very lock earlier releases took under the same number: replicas of two releases side
 * by side during a rollout still exclude each other.
 *
 * Session-level locks (`tryLock`, `waitForLock`, `unlock`) live until released or until their connection
 * ends; transaction-level ones (`tryTransactionLock`, `waitForTransactionLock`) until their transaction ends.
 * PgBouncer's transaction pooling keeps only the latter (docs/runbook.md).
 */
import type { DataSource } from 'typeorm';

export enum AdvisoryLock {
  /** The bytes of "lms-mig" as a bigint: applying migrations (src/stores/postgres/migration-runner.ts). */
  Migrations = '30519638935562599',
  AutoProgression = '7356001',
  WorkRecovery = '7356002',
  /** Shared by every conversation write, exclusive for every phase change (src/mode/write-fence.ts). */
  WriteFence = '7356003',
  /** Held (session-level) by the process making a move, from before its claim to its end (phase-state.repository.ts). */
  MoveInProgress = '7356004',
  /** One catch-up pass at a time: PostgreSQL 15's hashtext('lms:sync:catchup'), the key it was taken by before. */
  CatchupPass = '1976330798',
}

/** One connection: a QueryRunner, or the EntityManager of a transaction. */
export interface LockConnection {
  query(sql: string, parameters?: unknown[]): Promise<Array<Record<string, unknown>>>;
}

/** Session-level; true when taken, false when another session holds it. */
export async function tryLock(c: LockConnection, key: AdvisoryLock): Promise<boolean> {
  const [{ held }] = await c.query('SELECT pg_try_advisory_lock($1::bigint) AS held', [key]);
  return held === true;
}

/** Session-level; waits as long as it takes (bounded only by the session's statement_timeout). */
export async function waitForLock(c: LockConnection, key: AdvisoryLock): Promise<void> {
  await c.query('SELECT pg_advisory_lock($1::bigint)', [key]);
}

export async function unlock(c: LockConnection, key: AdvisoryLock): Promise<void> {
  await c.query('SELECT pg_advisory_unlock($1::bigint)', [key]);
}

/** Transaction-level (released at commit or rollback); `shared` ones exclude only the exclusive holder. */
export async function tryTransactionLock(
  c: LockConnection,
  key: AdvisoryLock,
  mode: 'exclusive' | 'shared' = 'exclusive',
): Promise<boolean> {
  const fn = mode === 'shared' ? 'pg_try_advisory_xact_lock_shared' : 'pg_try_advisory_xact_lock';
  const [{ held }] = await c.query(`SELECT ${fn}($1::bigint) AS held`, [key]);
  return held === true;
}

/** What beginLocked's connection must do: run one message of statements, and answer with each one's rows. */
export interface SimpleQueryConnection {
  query(sql: string): Promise<unknown>;
}

/**
 * Opens a transaction, tries a transaction-level lock in it, and runs `then` (one statement, no parameters), all
 * in one round trip: one simple-protocol message of three statements. It is the same as sending them one by one
 * (on a connection with no transaction open): PostgreSQL runs them in order, and in READ COMMITTED each statement
 * takes its snapshot when it starts, so `then` sees every commit that came before the lock was granted. Returns
 * whether the lock is held and `then`'s rows. The transaction is open in either case, also when this throws:
 * the caller ends it (ROLLBACK).
 */
export async function beginLocked(
  c: SimpleQueryConnection,
  key: AdvisoryLock,
  mode: 'exclusive' | 'shared',
  then: string,
): Promise<{ held: boolean; rows: Array<Record<string, unknown>> }> {
  // A key is one of the enum's decimal constants: inlined, as a simple query carries no parameters.
  if (!/^\d+$/.test(key)) throw new Error(`advisory lock key ${key} is not a decimal number`);
  const fn = mode === 'shared' ? 'pg_try_advisory_xact_lock_shared' : 'pg_try_advisory_xact_lock';
  const results = (await c.query(`START TRANSACTION; SELECT ${fn}(${key}::bigint) AS held; ${then}`)) as Array<{
    rows: Array<Record<string, unknown>>;
  }>;
  if (!Array.isArray(results) || results.length !== 3) throw new Error('beginLocked: expected the results of three statements');
  return { held: results[1].rows[0]?.held === true, rows: results[2].rows };
}

export async function waitForTransactionLock(c: LockConnection, key: AdvisoryLock): Promise<void> {
  await c.query('SELECT pg_advisory_xact_lock($1::bigint)', [key]);
}

const LOCK_NOT_AVAILABLE = '55P03';

/** Whether `err` is PostgreSQL's lock_timeout (or NOWAIT) refusal; TypeORM copies the driver's SQLSTATE beside it. */
export function isLockTimeout(err: unknown): boolean {
  const e = err as { code?: string; driverError?: { code?: string } } | undefined;
  return e?.code === LOCK_NOT_AVAILABLE || e?.driverError?.code === LOCK_NOT_AVAILABLE;
}

/**
 * waitForTransactionLock for at most `timeoutMs` (the transaction's lock_timeout meanwhile, none after): false when
 * the lock was not granted in time, and the transaction must then be rolled back.
 */
export async function waitForTransactionLockWithin(c: LockConnection, key: AdvisoryLock, timeoutMs: number): Promise<boolean> {
  await c.query(`SET LOCAL lock_timeout = ${Math.max(1, Math.floor(timeoutMs))}`);
  try {
    await waitForTransactionLock(c, key);
  } catch (err) {
    if (isLockTimeout(err)) return false;
    throw err;
  }
  await c.query('SET LOCAL lock_timeout = 0');
  return true;
}

/**
 * Runs `fn` only where no other process is running it: the lock is held in a transaction of a connection of
 * its own while `fn` works (on other connections), so a crashed holder's lock goes with its connection.
 * `busy` when another holds it. The transaction only holds the lock: it is committed whatever `fn` did, and
 * a failure to commit it (a connection lost after the work) does not undo the work's outcome.
 */
export async function whileHolding<T, B>(dataSource: DataSource, key: AdvisoryLock, busy: B, fn: () => Promise<T>): Promise<T | B> {
  const q = dataSource.createQueryRunner();
  try {
    await q.connect();
    await q.startTransaction();
    if (!(await tryTransactionLock(q, key))) return busy;
    return await fn();
  } finally {
    if (q.isTransactionActive) await q.commitTransaction().catch(() => undefined);
    await q.release();
  }
}
