/**
 * Re-reads an archive object as verification needs it: sha256 and size of the stored (gzip) bytes, and,
 * through gunzip, sha256, size and line count of the NDJSON with the first and last `_id`. Streams with
 * bounded memory (one line at most, capped). A gunzip failure (flipped byte, truncation) does not stop
 * the read: the stored bytes are still hashed to the end, so the report has both facts.
 */
import { createHash } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, Gunzip } from 'node:zlib';

/** Longer than any document's Extended JSON (16 MiB of BSON) can be; a longer "line" is corruption. */
export const MAX_LINE_BYTES = 64 * 1024 * 1024;

export interface ArchiveScan {
  gzipSha256: string;
  gzipBytes: number;
  /** Of the bytes gunzip produced (partial when unreadable). */
  contentSha256: string;
  contentBytes: number;
  lines: number;
  firstId: unknown;
  lastId: unknown;
  /** Why the stored bytes could not be read or decompressed to the end (corrupt or truncated gzip, read error). */
  unreadable?: string;
  /** The first line that is not a JSON object with an `_id`, or an unterminated last line. */
  malformed?: string;
}

const NEWLINE = 0x0a;

/** Splits NDJSON bytes into lines, hashing everything and checking each line is a document. */
class LineInspector extends Writable {
  private readonly hash = createHash('sha256');
  bytes = 0;
  lines = 0;
  firstId: unknown = null;
  lastId: unknown = null;
  malformed?: string;
  private partial: Buffer[] = [];
  private partialBytes = 0;
  private overlong = false;

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    let start = 0;
    for (let nl = chunk.indexOf(NEWLINE, start); nl !== -1; nl = chunk.indexOf(NEWLINE, start)) {
      this.take(chunk.subarray(start, nl));
      this.endLine();
      start = nl + 1;
    }
    if (start < chunk.length) this.take(chunk.subarray(start));
    callback();
  }

  override _final(callback: (error?: Error | null) => void): void {
    if (this.partialBytes > 0 || this.overlong) this.markMalformed(`line ${this.lines + 1} is not terminated by a newline`);
    callback();
  }

  contentSha256(): string {
    return this.hash.digest('hex');
  }

  private take(piece: Buffer): void {
    if (this.overlong || piece.length === 0) return;
    if (this.partialBytes + piece.length > MAX_LINE_BYTES) {
      this.overlong = true;
      this.partial = [];
      this.partialBytes = 0;
      return;
    }
    this.partial.push(Buffer.from(piece)); // a copy: zlib may reuse its output buffer
    this.partialBytes += piece.length;
  }

  private endLine(): void {
    this.lines += 1;
    const n = this.lines;
    if (this.overlong) {
      this.overlong = false;
      this.markMalformed(`line ${n} is longer than ${MAX_LINE_BYTES} bytes`);
      return;
    }
    const text = Buffer.concat(this.partial, this.partialBytes).toString('utf8');
    this.partial = [];
    this.partialBytes = 0;
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch {
      this.markMalformed(`line ${n} is not JSON`);
      return;
    }
    if (typeof doc !== 'object' || doc === null || Array.isArray(doc) || !('_id' in doc)) {
      this.markMalformed(`line ${n} is not a document with an _id`);
      return;
    }
    const id = doc._id;
    if (n === 1) this.firstId = id;
    this.lastId = id;
  }

  private markMalformed(why: string): void {
    this.malformed ??= why;
  }
}

function drained(gunzip: Gunzip): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      gunzip.off('drain', done);
      gunzip.off('close', done);
      resolve();
    };
    gunzip.on('drain', done);
    gunzip.on('close', done);
  });
}

export async function scanArchive(data: Readable): Promise<ArchiveScan> {
  const gzipHash = createHash('sha256');
  let gzipBytes = 0;
  const gunzip = createGunzip();
  const lines = new LineInspector();
  let inflateError: Error | undefined;
  const inflating = pipeline(gunzip, lines).catch((err: Error) => {
    inflateError = err;
  });
  let readError: Error | undefined;
  try {
    for await (const chunk of data as AsyncIterable<Buffer>) {
      gzipHash.update(chunk);
      gzipBytes += chunk.length;
      if (inflateError === undefined && !gunzip.destroyed && !gunzip.write(chunk)) await drained(gunzip);
    }
  } catch (err) {
    readError = err as Error;
  }
  if (readError) gunzip.destroy(readError);
  else if (!gunzip.destroyed) gunzip.end();
  await inflating;
  const unreadable = readError
    ? `reading the archive failed: ${readError.message}`
    : inflateError
      ? `gzip data is corrupt or truncated: ${inflateError.message}`
      : undefined;
  return {
    gzipSha256: gzipHash.digest('hex'),
    gzipBytes,
    contentSha256: lines.contentSha256(),
    contentBytes: lines.bytes,
    lines: lines.lines,
    firstId: lines.firstId,
    lastId: lines.lastId,
    ...(unreadable ? { unreadable } : {}),
    ...(lines.malformed ? { malformed: lines.malformed } : {}),
  };
}
