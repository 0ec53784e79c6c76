/**
 * The baselines the SPEC measures the sync engine against (section 6):
 * - rawCopy: the legacy cursor straight into PostgreSQL `COPY`, no checks: the least work that moves
 *   the data (a field-renaming transform with no validation, no version guard, no checkpoint);
 * - rawScans: reading everything from both stores and nothing else (the verification's baseline).
 *
 * rawCopy pipeline: one cursor (sorted by `_id` unless told otherwise, large batches) feeds chunks of
 * documents, already rendered as COPY text, to a few PostgreSQL connections; each connection copies
 * a chunk's conversations, then its messages (the foreign key needs the conversations first; each
 * COPY commits on its own). Reading the next chunk overlaps writing the previous ones.
 */
import { performance } from 'node:perf_hooks';
import { Document, MongoClient } from 'mongodb';
import { Client } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { round } from './log';

// ------------------------------------------------------------------------------------ COPY text

const NEEDS_ESCAPE = /[\\\t\n\r]/;
const ESCAPES = /[\\\t\n\r]/g;
const ESCAPED: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };

/** A value in COPY's text format. */
function copyText(s: string): string {
  return NEEDS_ESCAPE.test(s) ? s.replace(ESCAPES, (c) => ESCAPED[c]) : s;
}

/** A legacy timestamp as PostgreSQL reads it: Dates and epoch ms as ISO, strings as they are. */
function ts(v: unknown): string {
  if (v instanceof Date) return v.toISOString();
  if (typeof v === 'number') return new Date(v).toISOString();
  return copyText(String(v));
}

/**
 * One legacy document as COPY lines of both tables: field renaming only (old names, upper-case
 * roles, three timestamp forms), nothing checked. Returns the number of messages.
 */
export function appendCopyRows(doc: Document, conv: string[], msgs: string[]): number {
  const id = (doc._id as { toHexString(): string }).toHexString();
  const messages: Document[] = Array.isArray(doc.messages) ? doc.messages : [];
  const created = ts(doc.created);
  conv.push(
    `${id}\t${copyText(doc.user_id ?? doc.userId)}\t${doc.title == null ? '\\N' : copyText(doc.title)}\t` +
      `${copyText(JSON.stringify(doc.meta ?? {}))}\t${created}\t${doc.updated ? ts(doc.updated) : created}\t` +
      `${doc.v ?? 0}\t${doc.deleted === true ? 't' : 'f'}\t${messages.length}\n`,
  );
  for (let seq = 0; seq < messages.length; seq++) {
    const m = messages[seq];
    msgs.push(`${id}\t${seq}\t${String(m.role).toLowerCase()}\t${copyText(m.text ?? m.content)}\t${ts(m.ts)}\n`);
  }
  return messages.length;
}

const CONVERSATIONS_COPY =
  'COPY conversations (id, user_id, title, metadata, created_at, updated_at, version, deleted, message_count) FROM STDIN';
const MESSAGES_COPY = 'COPY messages (conversation_id, seq, role, content, created_at) FROM STDIN';

async function copyLines(client: Client, sql: string, lines: string[]): Promise<void> {
  if (lines.length === 0) return;
  const stream = client.query(copyFrom(sql));
  // One write per ~1 MB keeps the stream's overhead negligible.
  const done = new Promise<void>((resolve, reject) => {
    stream.on('finish', resolve);
    stream.on('error', reject);
  });
  let buf: string[] = [];
  let size = 0;
  for (const l of lines) {
    buf.push(l);
    size += l.length;
    if (size > 1 << 20) {
      if (!stream.write(buf.join(''))) await new Promise((r) => stream.once('drain', r));
      buf = [];
      size = 0;
    }
  }
  stream.end(buf.join(''));
  await done;
}

// ------------------------------------------------------------------------------------ raw copy

/** A bounded queue between one producer and several consumers; take() gives undefined once closed and empty. */
export class Channel<T> {
  private readonly items: T[] = [];
  private readonly takers: Array<(v: T | undefined) => void> = [];
  private readonly putters: Array<() => void> = [];
  private closed = false;
  private failure: unknown = null;

  constructor(private readonly capacity: number) {}

  async put(item: T): Promise<void> {
    for (;;) {
      if (this.failure) throw this.failure;
      if (this.items.length < this.capacity || this.takers.length > 0) break;
      await new Promise<void>((r) => this.putters.push(r));
    }
    const taker = this.takers.shift();
    if (taker) taker(item);
    else this.items.push(item);
  }

  async take(): Promise<T | undefined> {
    if (this.items.length > 0) {
      const item = this.items.shift();
      this.putters.shift()?.();
      return item;
    }
    if (this.closed) return undefined;
    return new Promise((r) => this.takers.push(r));
  }

  close(): void {
    this.closed = true;
    for (const t of this.takers.splice(0)) t(undefined);
  }

  /** A consumer failed: the producer's pending and next put() throw `err`. */
  abort(err: unknown): void {
    this.failure = err;
    for (const p of this.putters.splice(0)) p();
  }
}

export interface RawCopyOptions {
  legacyUrl: string;
  collection: string;
  databaseUrl: string;
  /** Sort the cursor by `_id` (default) or read in natural order. */
  sorted: boolean;
  cursorBatch: number;
  /** Documents per COPY chunk. */
  chunk: number;
  /** PostgreSQL connections writing chunks in parallel. */
  writers: number;
  /** Called when the copy is done, before the connections close (server CPU is read per live backend). */
  beforeClose?: () => void;
}

export interface RawCopyResult {
  docs: number;
  messages: number;
  elapsedS: number;
  /** Time until the cursor returned its first document (FerretDB sorts everything before that). */
  firstDocS: number;
  /** Wall time the reader spent waiting for the cursor (including transform), and writers waiting for COPY. */
  readS: number;
  writeS: number;
  nodeCpuS: number;
}

export async function rawCopy(o: RawCopyOptions): Promise<RawCopyResult> {
  const mongo = await MongoClient.connect(o.legacyUrl, { serverSelectionTimeoutMS: 3000 });
  const clients = await Promise.all(
    Array.from({ length: o.writers }, async () => {
      const c = new Client({ connectionString: o.databaseUrl, application_name: 'bench-raw-copy' });
      await c.connect();
      return c;
    }),
  );
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let docs = 0;
  let messages = 0;
  let firstDocS = 0;
  let readMs = 0;
  let writeMs = 0;
  try {
    const cursor = mongo
      .db()
      .collection(o.collection)
      .find({}, { batchSize: o.cursorBatch, ...(o.sorted ? { sort: { _id: 1 } } : {}) });
    const chunks = new Channel<{ conv: string[]; msgs: string[] }>(o.writers);
    const writers = clients.map(async (client) => {
      try {
        for (let chunk = await chunks.take(); chunk; chunk = await chunks.take()) {
          const w0 = performance.now();
          await copyLines(client, CONVERSATIONS_COPY, chunk.conv);
          await copyLines(client, MESSAGES_COPY, chunk.msgs);
          writeMs += performance.now() - w0;
        }
      } catch (err) {
        chunks.abort(err);
        throw err;
      }
    });
    try {
      let conv: string[] = [];
      let msgs: string[] = [];
      let r0 = performance.now();
      for await (const doc of cursor) {
        if (docs === 0) firstDocS = (performance.now() - t0) / 1000;
        docs++;
        messages += appendCopyRows(doc, conv, msgs);
        if (conv.length >= o.chunk) {
          readMs += performance.now() - r0;
          await chunks.put({ conv, msgs });
          conv = [];
          msgs = [];
          r0 = performance.now();
        }
      }
      readMs += performance.now() - r0;
      if (conv.length > 0) await chunks.put({ conv, msgs });
    } finally {
      chunks.close();
      await Promise.allSettled(writers);
    }
    await Promise.all(writers);
    o.beforeClose?.();
  } finally {
    await mongo.close();
    await Promise.all(clients.map((c) => c.end()));
  }
  const cpu = process.cpuUsage(cpu0);
  return {
    docs,
    messages,
    elapsedS: (performance.now() - t0) / 1000,
    firstDocS,
    readS: readMs / 1000,
    writeS: writeMs / 1000,
    nodeCpuS: (cpu.user + cpu.system) / 1e6,
  };
}

// ------------------------------------------------------------------------------------ raw scans

export interface ScanResult {
  rows: number;
  elapsedS: number;
  firstRowS?: number;
}

/** Every legacy document through one cursor (sorted by `_id` unless told otherwise), nothing else. */
export async function scanLegacy(legacyUrl: string, collection: string, sorted: boolean, batchSize: number): Promise<ScanResult> {
  const mongo = await MongoClient.connect(legacyUrl, { serverSelectionTimeoutMS: 3000 });
  const t0 = performance.now();
  let rows = 0;
  let firstRowS = 0;
  try {
    const cursor = mongo
      .db()
      .collection(collection)
      .find({}, { batchSize, ...(sorted ? { sort: { _id: 1 } } : {}) });
    for await (const _ of cursor) {
      if (rows === 0) firstRowS = (performance.now() - t0) / 1000;
      rows++;
    }
  } finally {
    await mongo.close();
  }
  return { rows, elapsedS: (performance.now() - t0) / 1000, firstRowS };
}

/**
 * A PostgreSQL table in key order through a server-side cursor, rows parsed by node-postgres (as any
 * reader of the rows would), FETCH `batch` at a time.
 */
export async function scanPostgres(databaseUrl: string, sql: string, batch: number): Promise<ScanResult> {
  const client = new Client({ connectionString: databaseUrl, application_name: 'bench-raw-scan' });
  await client.connect();
  const t0 = performance.now();
  let rows = 0;
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    await client.query(`DECLARE scan NO SCROLL CURSOR FOR ${sql}`);
    for (;;) {
      const r = await client.query(`FETCH ${batch} FROM scan`);
      rows += r.rowCount ?? 0;
      if ((r.rowCount ?? 0) < batch) break;
    }
    await client.query('COMMIT');
  } finally {
    await client.end();
  }
  return { rows, elapsedS: (performance.now() - t0) / 1000 };
}

export const PG_CONVERSATIONS_SCAN =
  'SELECT id, user_id, title, metadata, created_at, updated_at, version, deleted, message_count FROM conversations ORDER BY id';
export const PG_MESSAGES_SCAN = 'SELECT conversation_id, seq, role, content, created_at FROM messages ORDER BY conversation_id, seq';

export function rates(docs: number, bytes: number, seconds: number): { docs_per_s: number; mb_per_s: number } {
  return { docs_per_s: round(docs / seconds, 0), mb_per_s: round(bytes / 1e6 / seconds, 2) };
}
