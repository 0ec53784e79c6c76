/**
 * Ending PostgreSQL's sessions the way a restart, a failover or an administrator does (pg_terminate_backend: FATAL
 * 57P01 on each), for the tests that check nothing dies of it and nothing acknowledged is lost.
 */
import { Client } from 'pg';

/** A connection of the test's own to end sessions from; it ignores its own errors (its server is being hurt). */
export async function sessionKiller(url: string): Promise<Client> {
  const admin = new Client({ connectionString: url, application_name: 'test-session-killer' });
  admin.on('error', () => undefined);
  await admin.connect();
  return admin;
}

/**
 * Ends every client session but `admin`'s own and those in `except` (backend pids); with `ownDatabaseOnly`, only
 * the sessions of `admin`'s database. Returns how many it ended.
 */
export async function endSessions(admin: Client, options: { ownDatabaseOnly?: boolean; except?: number[] } = {}): Promise<number> {
  const { rows } = await admin.query<{ n: number }>(
    `SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity
     WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() AND pid <> ALL($1::int[])
       AND (NOT $2::bool OR datname = current_database())`,
    [options.except ?? [], options.ownDatabaseOnly ?? false],
  );
  return rows[0].n;
}
