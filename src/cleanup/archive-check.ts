/**
 * The verdict of a verification: the manifest against what was re-read from the target and against a
 * fresh read of the store. Pure, so every kind of problem is tested without servers. Each problem has
 * a stable code; `ok` means there is none.
 */
import type { ArchiveScan } from './archive-reader';
import { sameJsonValue } from './archive-format';
import type { Manifest } from './archive-manifest';

export type VerifyProblemCode =
  | 'MANIFEST_MISSING'
  | 'MANIFEST_INVALID'
  | 'MANIFEST_DIFFERS'
  | 'COLLECTION_DIFFERS'
  | 'ARCHIVE_MISSING'
  | 'ARCHIVE_UNREADABLE'
  | 'ARCHIVE_MALFORMED'
  | 'GZIP_CHECKSUM_DIFFERS'
  | 'CONTENT_CHECKSUM_DIFFERS'
  | 'COUNT_DIFFERS'
  | 'ID_RANGE_DIFFERS'
  | 'STORE_COUNT_DIFFERS'
  | 'STORE_CHECKSUM_DIFFERS';

export interface VerifyProblem {
  code: VerifyProblemCode;
  message: string;
  expected?: unknown;
  actual?: unknown;
}

/** A fresh read of the store, computed exactly as the archive was. */
export interface StoreScan {
  /** countDocuments of the live collection. */
  count: number;
  /** Documents the scan read (differs from `count` only if the collection changed meanwhile). */
  documents: number;
  contentSha256: string;
  contentBytes: number;
  firstId: unknown;
  lastId: unknown;
}

export interface VerifyResult {
  ok: boolean;
  problems: VerifyProblem[];
  /** The manifest checked against (null when none could be found or read). */
  manifest: Manifest | null;
  manifestLocation: string | null;
  archive: ArchiveScan | null;
  store: StoreScan | null;
  checkedAt: string;
}

export function problem(code: VerifyProblemCode, message: string, expected?: unknown, actual?: unknown): VerifyProblem {
  return { code, message, ...(expected !== undefined ? { expected } : {}), ...(actual !== undefined ? { actual } : {}) };
}

const sum = (sha256: string, bytes: number) => ({ sha256, bytes });

/** Problems of an archive re-read from the target (`null`: the data object is missing). */
export function checkArchive(manifest: Manifest, archive: ArchiveScan | null): VerifyProblem[] {
  const out: VerifyProblem[] = [];
  if (archive === null) {
    out.push(problem('ARCHIVE_MISSING', `the archive ${manifest.archive.location} named by the manifest does not exist`));
    return out;
  }
  if (archive.gzipSha256 !== manifest.archive.sha256 || archive.gzipBytes !== manifest.archive.bytes) {
    out.push(
      problem(
        'GZIP_CHECKSUM_DIFFERS',
        `the stored archive is not the one the manifest describes (sha256 or size of the gzip bytes differ)`,
        sum(manifest.archive.sha256, manifest.archive.bytes),
        sum(archive.gzipSha256, archive.gzipBytes),
      ),
    );
  }
  if (archive.unreadable) {
    // What was read before the failure is partial: comparing its content or count would only add noise.
    out.push(problem('ARCHIVE_UNREADABLE', archive.unreadable));
    return out;
  }
  if (archive.malformed) out.push(problem('ARCHIVE_MALFORMED', archive.malformed));
  if (archive.contentSha256 !== manifest.content.sha256 || archive.contentBytes !== manifest.content.bytes) {
    out.push(
      problem(
        'CONTENT_CHECKSUM_DIFFERS',
        'the archive decompresses to other content than the manifest records',
        sum(manifest.content.sha256, manifest.content.bytes),
        sum(archive.contentSha256, archive.contentBytes),
      ),
    );
  }
  if (archive.lines !== manifest.documentCount) {
    out.push(
      problem(
        'COUNT_DIFFERS',
        `the archive holds ${archive.lines} documents, the manifest says ${manifest.documentCount}`,
        manifest.documentCount,
        archive.lines,
      ),
    );
  }
  if (!sameJsonValue(archive.firstId, manifest.firstId) || !sameJsonValue(archive.lastId, manifest.lastId)) {
    out.push(
      problem(
        'ID_RANGE_DIFFERS',
        "the archive's first or last _id is not the manifest's",
        { firstId: manifest.firstId, lastId: manifest.lastId },
        { firstId: archive.firstId, lastId: archive.lastId },
      ),
    );
  }
  return out;
}

/** Problems of the live collection against the manifest. */
export function checkStore(manifest: Manifest, store: StoreScan): VerifyProblem[] {
  const out: VerifyProblem[] = [];
  if (store.count !== manifest.documentCount) {
    out.push(
      problem(
        'STORE_COUNT_DIFFERS',
        `the legacy collection holds ${store.count} documents, the archive ${manifest.documentCount}`,
        manifest.documentCount,
        store.count,
      ),
    );
  }
  if (store.contentSha256 !== manifest.content.sha256 || store.contentBytes !== manifest.content.bytes) {
    out.push(
      problem(
        'STORE_CHECKSUM_DIFFERS',
        "the legacy collection's documents no longer serialise to the archived content (written or removed since the archive?)",
        sum(manifest.content.sha256, manifest.content.bytes),
        sum(store.contentSha256, store.contentBytes),
      ),
    );
  }
  return out;
}

/** The manifest describes this source's collection. */
export function checkSource(manifest: Manifest, source: { database: string; collection: string }): VerifyProblem[] {
  if (manifest.collection === source.collection && manifest.database === source.database) return [];
  return [
    problem(
      'COLLECTION_DIFFERS',
      `the manifest is of ${manifest.database}.${manifest.collection}, not of ${source.database}.${source.collection}`,
      `${source.database}.${source.collection}`,
      `${manifest.database}.${manifest.collection}`,
    ),
  ];
}

/** The stored manifest against one a caller kept (e.g. in the phase state): any field differing. */
export function checkManifestCopy(kept: Manifest, stored: Manifest): VerifyProblem[] {
  const differing = Object.keys({ ...kept, ...stored }).filter(
    (k) =>
      JSON.stringify((kept as unknown as Record<string, unknown>)[k]) !== JSON.stringify((stored as unknown as Record<string, unknown>)[k]),
  );
  return differing.length === 0
    ? []
    : [problem('MANIFEST_DIFFERS', `the stored manifest differs from the given one in: ${differing.join(', ')}`, undefined, differing)];
}
