import type { Readable } from 'node:stream';

/**
 * Where archives go: a directory or an S3 bucket. Objects are flat names (no `/`) under the target's
 * root. `put` is all or nothing: an object is visible under its name only once it is complete, so the
 * archiver can write the data first and the manifest last and a crash never leaves a manifest naming a
 * partial archive.
 */
export interface ArchiveTarget {
  /** The target's root, for logs and errors (never credentials). */
  describe(): string;
  /** Where an object of this name lives: an absolute path or `s3://bucket/key`. */
  locate(name: string): string;
  /** The object name of a location `locate` produced, or of a bare name; null when it is not ours. */
  nameOf(location: string): string | null;
  /** Fails with a clear message when objects cannot be written (no such bucket, unwritable directory). */
  check(): Promise<void>;
  /** Streams `data` into `name`, with backpressure; rejects (and leaves nothing under `name`) on failure. */
  put(name: string, data: Readable, contentType: string): Promise<void>;
  /** The object's bytes as a stream, or null when there is no such object. */
  open(name: string): Promise<Readable | null>;
  /** The names of the complete objects at the target. */
  list(): Promise<string[]>;
  close(): Promise<void>;
}

/** Object names are single path segments: no separators, no `.`/`..`, no hidden temporary names. */
export function assertObjectName(name: string): void {
  if (name === '' || name.startsWith('.') || /[/\\]/.test(name) || name.includes('\0')) {
    throw new RangeError(`invalid archive object name ${JSON.stringify(name)}`);
  }
}
