/** The new store's side of a verification record: built from PostgreSQL rows, beside the adapter that reads them. */
import { InvalidRowError } from '../model/errors';
import { ConversationRow, fromRows, MessageRow } from '../stores/postgres/pg-rows';
import { problemRecord, recordOf, VerifyRecord } from './domain/verify-record';

/** A conversation row and exactly its message rows (any order). */
export function newRecord(row: ConversationRow, messages: readonly MessageRow[], keepForm = true): VerifyRecord {
  try {
    return recordOf(fromRows(row, messages), keepForm);
  } catch (err) {
    if (err instanceof InvalidRowError || err instanceof TypeError) {
      const version = typeof row.version === 'string' ? Number(row.version) : row.version;
      return problemRecord('new', row.id, err instanceof InvalidRowError ? err.reason : err.message, version, row.deleted);
    }
    throw err;
  }
}
