/**
 * FerretDB v1, the MongoDB-compatible server of local runs and tests, cannot store arrays of arrays
 * (MongoDB can). Generated data for those runs leaves them out with this predicate.
 */
export function hasNestedArray(value: unknown, inArray = false): boolean {
  if (Array.isArray(value)) return inArray || value.some((x) => hasNestedArray(x, true));
  if (typeof value === 'object' && value !== null && !(value instanceof Date)) return Object.values(value).some((x) => hasNestedArray(x));
  return false;
}
