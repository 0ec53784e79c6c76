/**
 * Domain errors. Each carries a stable `code` so adapters, the dead-letter store and the HTTP filter can
 * branch on it without parsing messages.
 */

/**
 * A legacy document that cannot be read without guessing. The migration dead-letters it (with `reason` and
 * the raw document) and goes on; it is never dropped silently or "repaired".
 */
export class UnreadableDocumentError extends Error {
  readonly code = 'UNREADABLE_DOCUMENT' as const;

  /**
   * @param reason names the legacy field path first, e.g. `messages[3].ts: unparsable date "yesterday"`.
   * @param id the document id, when `_id` itself could be read.
   */
  constructor(
    readonly reason: string,
    readonly id?: string,
  ) {
    super(id === undefined ? `unreadable legacy document: ${reason}` : `unreadable legacy document ${id}: ${reason}`);
    this.name = 'UnreadableDocumentError';
  }
}

/**
 * PostgreSQL rows that do not form a valid conversation (e.g. a gap in message `seq`, a `message_count` that
 * disagrees with the rows, a bigint version beyond the safe integer range). Our own writes never produce
 * these, so seeing one means corruption or a partial read: fail loudly rather than return a wrong conversation.
 */
export class InvalidRowError extends Error {
  readonly code = 'INVALID_ROW' as const;

  constructor(
    readonly reason: string,
    readonly id?: string,
  ) {
    super(id === undefined ? `invalid conversation rows: ${reason}` : `invalid conversation rows ${id}: ${reason}`);
    this.name = 'InvalidRowError';
  }
}
