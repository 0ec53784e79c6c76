/** One line of the audit log (`GET /migration/history`): every transition, traffic change, force and rollback. */
export interface AuditEntry {
  id: number;
  at: string;
  actor: string;
  action: string;
  reason: string | null;
  forced: boolean;
  before: unknown;
  after: unknown;
  details: unknown;
}
