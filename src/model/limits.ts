/**
 * Input limits of the API (SPEC section 1), as pure checks that return every problem found so the caller can
 * answer one clear 4xx before anything is written. These apply to new input only: data already in the
 * legacy store is copied as it is (see `fromLegacy`), even when it would not pass them.
 *
 * "Characters" are Unicode code points (an emoji counts once); content and metadata sizes are UTF-8 bytes.
 * Metadata depth counts containers: the metadata object itself is level 1.
 */
import { MESSAGE_ROLES, MessageRole } from './conversation.model';
import { isPlainObject, jsonProblems } from './json-value';
import { codePointLength, unstorableReason } from './text-safety';

export interface FieldError {
  field: string;
  message: string;
}

export const LIMITS = {
  titleMaxChars: 500,
  contentMaxBytes: 64 * 1024,
  metadataMaxBytes: 16 * 1024,
  metadataMaxDepth: 8,
  userIdMaxChars: 200,
  /** A body full of bad keys must not produce an unbounded error list. */
  maxErrorsPerField: 20,
} as const;

const RESERVED_KEYS = new Set(['__proto__', 'constructor', 'prototype']);
const HEX_ID = /^[0-9a-f]{24}$/;

/** Ids are lower case, as the service writes them, so one id has one spelling in every store, cache and log. */
export function isValidId(value: unknown): value is string {
  return typeof value === 'string' && HEX_ID.test(value);
}

export function checkId(value: unknown, field = 'id'): FieldError[] {
  return isValidId(value) ? [] : [{ field, message: 'must be 24 lower-case hex characters' }];
}

export function checkUserId(value: unknown, field = 'userId'): FieldError[] {
  if (typeof value !== 'string' || value === '') return [{ field, message: 'must be a non-empty string' }];
  return checkText(value, field, LIMITS.userIdMaxChars);
}

/** `null` and absent are both fine: a conversation may have no title. */
export function checkTitle(value: unknown, field = 'title'): FieldError[] {
  if (value === undefined || value === null) return [];
  if (typeof value !== 'string') return [{ field, message: 'must be a string or null' }];
  return checkText(value, field, LIMITS.titleMaxChars);
}

/** Empty content is allowed (legacy data has it); the limit is in UTF-8 bytes, as stored. */
export function checkContent(value: unknown, field = 'content'): FieldError[] {
  if (typeof value !== 'string') return [{ field, message: 'must be a string' }];
  const errors = checkText(value, field);
  const bytes = Buffer.byteLength(value, 'utf8');
  if (bytes > LIMITS.contentMaxBytes) {
    errors.push({ field, message: `must be at most ${LIMITS.contentMaxBytes} bytes in UTF-8 (is ${bytes})` });
  }
  return errors;
}

export function checkRole(value: unknown, field = 'role'): FieldError[] {
  return MESSAGE_ROLES.includes(value as MessageRole) ? [] : [{ field, message: `must be one of ${MESSAGE_ROLES.join(', ')}` }];
}

/**
 * A JSON object within the size and depth limits, with safe keys and storable strings. The size is measured
 * only when the structure is valid, since serialising anything else would not measure what gets stored.
 */
export function checkMetadata(value: unknown, field = 'metadata'): FieldError[] {
  if (!isPlainObject(value)) return [{ field, message: 'must be a JSON object' }];
  const errors: FieldError[] = [];
  for (const p of jsonProblems(value, field, { checkKey: metadataKeyProblem, maxDepth: LIMITS.metadataMaxDepth })) {
    errors.push({ field: p.path, message: p.message });
    if (errors.length === LIMITS.maxErrorsPerField) return errors;
  }
  if (errors.length > 0) return errors;
  const bytes = Buffer.byteLength(JSON.stringify(value), 'utf8');
  if (bytes > LIMITS.metadataMaxBytes) {
    errors.push({ field, message: `must be at most ${LIMITS.metadataMaxBytes} bytes serialised (is ${bytes})` });
  }
  return errors;
}

/**
 * `$` and `.` would be operators or paths to the legacy store (MongoDB); the reserved names are a
 * prototype-pollution hazard to any JavaScript that handles the object later.
 */
export function metadataKeyProblem(key: string): string | null {
  if (key.startsWith('$')) return 'must not start with "$"';
  if (key.includes('.')) return 'must not contain "."';
  if (RESERVED_KEYS.has(key)) return `${JSON.stringify(key)} is reserved`;
  return null;
}

function checkText(value: string, field: string, maxChars?: number): FieldError[] {
  const errors: FieldError[] = [];
  const bad = unstorableReason(value);
  if (bad) errors.push({ field, message: bad });
  if (maxChars !== undefined && codePointLength(value) > maxChars) {
    errors.push({ field, message: `must be at most ${maxChars} characters` });
  }
  return errors;
}
