/**
 * The manifest: what an archive holds and how to prove it. It is written next to the data object and
 * LAST, so a manifest only ever names a complete data object; a crash leaves at most an orphaned data
 * object (or a temporary file / unfinished multipart upload), never a manifest pointing at a partial one.
 * Pure: building, naming and parsing, no I/O.
 */
import { ARCHIVE_FORMAT, ARCHIVE_FORMAT_VERSION } from './archive-format';

export interface Manifest {
  formatVersion: number;
  format: string;
  database: string;
  collection: string;
  documentCount: number;
  /** The uncompressed NDJSON. */
  content: { sha256: string; bytes: number };
  /** The gzip object as stored. */
  archive: { name: string; location: string; sha256: string; bytes: number; compression: 'gzip' };
  /** This manifest's own object name, next to the archive. */
  manifestName: string;
  /** Canonical Extended JSON of the first and last `_id` (null when the collection was empty). */
  firstId: unknown;
  lastId: unknown;
  startedAt: string;
  finishedAt: string;
}

export interface ArchiveNames {
  data: string;
  manifest: string;
}

const DATA_SUFFIX = '.ndjson.gz';
const MANIFEST_SUFFIX = '.manifest.json';
const STAMP = /^\d{8}T\d{9}Z-[0-9a-f]{8}$/;

/** A collection name made safe for file names and keys (the manifest keeps the exact name). */
export function safeName(collection: string): string {
  return collection.replace(/[^A-Za-z0-9._-]/g, '_');
}

/**
 * `<collection>-<yyyymmddThhmmssmmmZ>-<random>`: names sort by start time, and two archives started in
 * the same millisecond still differ.
 */
export function archiveNames(collection: string, startedAt: Date, random: string): ArchiveNames {
  if (!/^[0-9a-f]{8}$/.test(random)) throw new RangeError('archiveNames: random must be 8 hex characters');
  const stamp = startedAt.toISOString().replace(/[-:.]/g, '');
  const base = `${safeName(collection)}-${stamp}-${random}`;
  return { data: `${base}${DATA_SUFFIX}`, manifest: `${base}${MANIFEST_SUFFIX}` };
}

/** The newest manifest of `collection` among object names, or null. */
export function latestManifestName(names: Iterable<string>, collection: string): string | null {
  const prefix = `${safeName(collection)}-`;
  const ours = [...names].filter(
    (n) => n.startsWith(prefix) && n.endsWith(MANIFEST_SUFFIX) && STAMP.test(n.slice(prefix.length, -MANIFEST_SUFFIX.length)),
  );
  ours.sort();
  return ours.length > 0 ? ours[ours.length - 1] : null;
}

export interface ManifestInput {
  database: string;
  collection: string;
  names: ArchiveNames;
  dataLocation: string;
  documentCount: number;
  content: { sha256: string; bytes: number };
  archive: { sha256: string; bytes: number };
  firstId: unknown;
  lastId: unknown;
  startedAt: Date;
  finishedAt: Date;
}

export function buildManifest(input: ManifestInput): Manifest {
  return {
    formatVersion: ARCHIVE_FORMAT_VERSION,
    format: ARCHIVE_FORMAT,
    database: input.database,
    collection: input.collection,
    documentCount: input.documentCount,
    content: { sha256: input.content.sha256, bytes: input.content.bytes },
    archive: {
      name: input.names.data,
      location: input.dataLocation,
      sha256: input.archive.sha256,
      bytes: input.archive.bytes,
      compression: 'gzip',
    },
    manifestName: input.names.manifest,
    firstId: input.firstId,
    lastId: input.lastId,
    startedAt: input.startedAt.toISOString(),
    finishedAt: input.finishedAt.toISOString(),
  };
}

export function manifestText(m: Manifest): string {
  return `${JSON.stringify(m, null, 2)}\n`;
}

export class ManifestInvalidError extends Error {
  readonly code = 'MANIFEST_INVALID';
  constructor(readonly problems: string[]) {
    super(`invalid archive manifest: ${problems.join('; ')}`);
    this.name = 'ManifestInvalidError';
  }
}

const SHA256 = /^[0-9a-f]{64}$/;
const isCount = (n: unknown) => Number.isSafeInteger(n) && (n as number) >= 0;
const isIso = (s: unknown) => typeof s === 'string' && !Number.isNaN(Date.parse(s));
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Parses and checks a manifest's text; throws ManifestInvalidError naming every problem. */
export function parseManifest(text: string): Manifest {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ManifestInvalidError([`not JSON (${(err as Error).message})`]);
  }
  if (!isObject(raw)) throw new ManifestInvalidError(['not a JSON object']);
  const problems: string[] = [];
  const need = (ok: boolean, what: string) => {
    if (!ok) problems.push(what);
  };
  if (raw.formatVersion !== ARCHIVE_FORMAT_VERSION) {
    throw new ManifestInvalidError([
      `unsupported formatVersion ${JSON.stringify(raw.formatVersion)} (this service reads ${ARCHIVE_FORMAT_VERSION})`,
    ]);
  }
  need(typeof raw.database === 'string', 'database must be a string');
  need(typeof raw.collection === 'string' && raw.collection !== '', 'collection must be a non-empty string');
  need(isCount(raw.documentCount), 'documentCount must be a non-negative integer');
  const content = isObject(raw.content) ? raw.content : {};
  need(SHA256.test(String(content.sha256)), 'content.sha256 must be 64 hex characters');
  need(isCount(content.bytes), 'content.bytes must be a non-negative integer');
  const archive = isObject(raw.archive) ? raw.archive : {};
  need(typeof archive.name === 'string' && archive.name !== '', 'archive.name must be a non-empty string');
  need(typeof archive.location === 'string', 'archive.location must be a string');
  need(SHA256.test(String(archive.sha256)), 'archive.sha256 must be 64 hex characters');
  need(isCount(archive.bytes), 'archive.bytes must be a non-negative integer');
  need(archive.compression === 'gzip', 'archive.compression must be "gzip"');
  need(typeof raw.manifestName === 'string' && raw.manifestName !== '', 'manifestName must be a non-empty string');
  need('firstId' in raw && 'lastId' in raw, 'firstId and lastId must be present');
  need((raw.documentCount === 0) === (raw.firstId === null), 'firstId must be null exactly when documentCount is 0');
  need(isIso(raw.startedAt) && isIso(raw.finishedAt), 'startedAt and finishedAt must be ISO-8601 times');
  if (problems.length > 0) throw new ManifestInvalidError(problems);
  return raw as unknown as Manifest;
}
