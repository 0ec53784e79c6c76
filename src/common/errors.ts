/**
 * Domain errors carry a stable upper-case `code` and the HTTP status they map to; one filter turns
 * them into the SPEC error shape. Anything else is a 500 with a generic message.
 */
export interface FieldError {
  field: string;
  message: string;
}

export class DomainError extends Error {
  constructor(
    readonly code: string,
    readonly statusCode: number,
    message: string,
    readonly errors?: FieldError[] | Record<string, unknown>[],
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class ValidationFailedError extends DomainError {
  constructor(errors: FieldError[], message = 'Request validation failed') {
    super('VALIDATION_FAILED', 400, message, errors);
  }
}

export class NotFoundError extends DomainError {
  constructor(what: string) {
    super('NOT_FOUND', 404, `${what} not found`);
  }
}

export class VersionConflictError extends DomainError {
  constructor(expected: number, actual: number) {
    super('VERSION_CONFLICT', 412, `If-Match names version ${expected} but the current version is ${actual}`);
  }
}

export class ServiceUnavailableError extends DomainError {
  constructor(message: string) {
    super('SERVICE_UNAVAILABLE', 503, message);
  }
}

export type RefusingStore = 'legacy' | 'new';

const STORE_LABEL: Record<RefusingStore, string> = { legacy: 'legacy store (MongoDB)', new: 'new store (PostgreSQL)' };

/**
 * A store refused a document the API accepted (the SPEC's input rules allow it, the server cannot hold it):
 * a client error naming the store and the field, never a 500. Thrown before anything is written, or when the
 * store's own refusal shows nothing was.
 */
export class StoreRefusedError extends DomainError {
  constructor(
    readonly store: RefusingStore,
    field: string,
    reason: string,
    message = `The ${STORE_LABEL[store]} refuses this document; nothing was written`,
  ) {
    super('STORE_REFUSED', 422, message, [{ field, message: `the ${STORE_LABEL[store]} ${reason}` }]);
  }
}
