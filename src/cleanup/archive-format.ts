/**
 * The archive's data format, version 1: gzip-compressed NDJSON, one line per raw legacy document, each
 * line the document's MongoDB Extended JSON v2 in canonical form (`relaxed: false`), in `_id` order.
 * Canonical EJSON names every BSON type (`$numberInt`, `$numberLong`, `$date`, `$binary`, ...), so a line
 * parsed with `EJSON.parse(line, { relaxed: false })` serialises back to the exact BSON the store held.
 * JSON escapes `\n` and lone surrogates, so a line never contains a raw newline and is always valid UTF-8.
 *
 * Documents are read without promoting values (an Int32 stays an Int32, a Long a Long, a regular
 * expression a BSONRegExp), otherwise a driver round trip would already have changed their types.
 */
import { createHash, Hash } from 'node:crypto';
import { BSON, Document } from 'mongodb';

export const ARCHIVE_FORMAT = 'ndjson+gzip; one MongoDB Extended JSON v2 canonical document per line, in _id order';
export const ARCHIVE_FORMAT_VERSION = 1;

/** Driver options that hand documents over with their BSON types intact. */
export const RAW_READ_OPTIONS = {
  promoteValues: false,
  promoteLongs: false,
  promoteBuffers: false,
  bsonRegExp: true,
} as const;

/** One archive line, with its terminating newline. */
export function documentLine(doc: Document): string {
  return `${BSON.EJSON.stringify(doc, { relaxed: false })}\n`;
}

/** An `_id` as the manifest records it: its canonical Extended JSON value (`{"$oid": ...}`, a string, ...). */
export function idValue(id: unknown): unknown {
  return BSON.EJSON.serialize({ id }, { relaxed: false }).id;
}

/**
 * Count, size, sha256 and first/last id of an NDJSON stream, fed one document at a time. The archiver
 * feeds the documents it writes; verification feeds a fresh read of the store, the same way.
 */
export class NdjsonDigest {
  private readonly hash: Hash = createHash('sha256');
  private digest?: string;
  count = 0;
  bytes = 0;
  firstId: unknown = null;
  lastId: unknown = null;

  /** Adds a document; returns its line's bytes. */
  add(doc: Document): Buffer {
    if (this.digest !== undefined) throw new Error('NdjsonDigest: add after sha256()');
    const line = Buffer.from(documentLine(doc), 'utf8');
    this.hash.update(line);
    this.count += 1;
    this.bytes += line.length;
    const id = idValue(doc._id);
    if (this.count === 1) this.firstId = id;
    this.lastId = id;
    return line;
  }

  sha256(): string {
    this.digest ??= this.hash.digest('hex');
    return this.digest;
  }
}

/** The sha256 of the empty content: what an archive of an empty collection holds. */
export const EMPTY_SHA256 = createHash('sha256').digest('hex');

/** Two Extended JSON values (ids) are the same value. Canonical EJSON has one spelling per value. */
export function sameJsonValue(a: unknown, b: unknown): boolean {
  return JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
}
