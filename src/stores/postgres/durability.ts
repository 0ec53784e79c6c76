/**
 * What PostgreSQL's own settings let a crash take back. The write fence acknowledges a write once its transaction
 * commits; that promise is only as durable as the commit. Checked once at start-up and logged as a warning: the
 * service does not override the server's settings (a session-level `synchronous_commit = on` would also weaken a
 * server set to `remote_apply`), the operator decides.
 */
import type { DataSource } from 'typeorm';

export interface DurabilitySettings {
  fsync: string;
  synchronous_commit: string;
}

export function durabilityRisks(s: DurabilitySettings): string[] {
  const out: string[] = [];
  if (s.fsync === 'off') out.push('fsync is off: a crash of the machine can lose or corrupt committed transactions');
  if (s.synchronous_commit === 'off')
    out.push('synchronous_commit is off: a crash of the server can lose the last commits, writes this service acknowledged');
  return out;
}

/** The server's settings as this service's sessions see them (a role or database may set them too). */
export async function readDurabilitySettings(ds: DataSource): Promise<DurabilitySettings> {
  const [row] = await ds.query<DurabilitySettings[]>(
    "SELECT current_setting('fsync') AS fsync, current_setting('synchronous_commit') AS synchronous_commit",
  );
  return row;
}
