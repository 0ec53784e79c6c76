/**
 * A COPY (the sync's staged batches, src/stores/postgres/copy-in.ts) sent on a connection whose session PostgreSQL
 * ended before it: pg fails it on the next tick, while the first write waits for the socket to drain, which never
 * comes. It must fail at once with the connection's error. It used to wait for that drain for ever, with its failure
 * a rejection nobody handled yet: in a worker, that ended the process (the history checker's worker, while
 * PostgreSQL ended every session ten times a second).
 */
import type { Client } from 'pg';
import { copyIn } from '../src/stores/postgres/copy-in';
import { ListenedClient } from '../src/stores/postgres/pg-client';
import { useMigratedDatabase } from './support/databases';
import { sessionKiller } from './support/pg-sessions';

describe('a COPY on a connection whose session ended', () => {
  const db = useMigratedDatabase();
  let client: ListenedClient | undefined;
  let admin: Client | undefined;

  afterEach(async () => {
    await client?.end().catch(() => undefined);
    await admin?.end().catch(() => undefined);
  });

  it("fails at once with the connection's error", async () => {
    const url = (db.ds.options as { url: string }).url;
    client = new ListenedClient(url);
    await client.connect();
    const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    const ended = new Promise((resolve) => client!.once('error', resolve));
    admin = await sessionKiller(url);
    await admin.query('SELECT pg_terminate_backend($1)', [rows[0].pid]);
    await ended;
    // More than a socket's buffer, so that the first write waits for a drain.
    const text = 'x'.repeat(3 << 20);
    await expect(copyIn(client, 'COPY conversations (id) FROM STDIN', text)).rejects.toThrow(/not queryable/);
  }, 10_000);
});
