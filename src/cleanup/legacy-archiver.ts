/**
 * LegacyArchiver: the cleanup phase's archive of the legacy collection, and the check of that archive.
 *
 * archive(): one cursor over the collection in `_id` order -> NDJSON lines (Extended JSON canonical,
 * hashed and counted as they pass) -> gzip -> a hashing tap -> the target, as one stream pipeline, so
 * memory stays bounded whatever the collection's size and a slow target slows the cursor down
 * (backpressure) instead of filling memory. The data object is stored first; the manifest, which
 * carries both checksums, is stored only after the data object is complete. A failure anywhere tears
 * the whole pipeline down (cursor closed, temporary file removed or multipart upload aborted) and
 * rejects; no manifest is written, so a later verify never sees a half archive as valid.
 *
 * verify(): re-reads the archive from the target (gunzip, count, sha256) and, in parallel, re-reads
 * the live collection through the same serialisation, and compares both with the manifest. Every
 * problem found is named in the result; infrastructure failures (store down) reject instead.
 */
import { createHash, randomBytes } from 'node:crypto';
import { Readable, Transform, TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { Logger } from '@nestjs/common';
import type { Document } from 'mongodb';
import { checkArchive, checkManifestCopy, checkSource, checkStore, problem, StoreScan, VerifyProblem, VerifyResult } from './archive-check';
import { ArchiveInProgressError, ArchiveNotConfiguredError } from './archive-errors';
import { NdjsonDigest } from './archive-format';
import {
  archiveNames,
  buildManifest,
  latestManifestName,
  Manifest,
  ManifestInvalidError,
  manifestText,
  parseManifest,
} from './archive-manifest';
import { ArchiveProgress, ArchiveStage, ProgressTracker } from './archive-progress';
import { ArchiveScan, scanArchive } from './archive-reader';
import type { ArchiveSource } from './archive-source.port';
import type { ArchiveTarget } from './archive-target.port';

export interface LegacyArchiverOptions {
  gzipLevel: number;
  /** Interval of progress log lines. */
  progressLogIntervalMs: number;
  /** Interval of progress callbacks (default 1 s); the last one always comes. */
  progressReportIntervalMs?: number;
  /** NDJSON is handed to gzip in chunks of about this size (default 64 KiB). */
  chunkBytes?: number;
}

export interface RunOptions {
  onProgress?: (progress: ArchiveProgress) => void;
}

/** Manifests are small; anything larger than this is not one of ours. */
const MAX_MANIFEST_BYTES = 1024 * 1024;

/** Passes bytes through, hashing and counting them: the gzip bytes exactly as handed to the target. */
class HashingTap extends Transform {
  private readonly hash = createHash('sha256');
  bytes = 0;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    callback(null, chunk);
  }

  sha256(): string {
    return this.hash.digest('hex');
  }
}

async function* ndjsonChunks(
  docs: AsyncIterable<Document>,
  digest: NdjsonDigest,
  chunkBytes: number,
  afterEach: () => void,
): AsyncGenerator<Buffer> {
  let parts: Buffer[] = [];
  let size = 0;
  for await (const doc of docs) {
    const line = digest.add(doc);
    parts.push(line);
    size += line.length;
    afterEach();
    if (size >= chunkBytes) {
      yield Buffer.concat(parts, size);
      parts = [];
      size = 0;
    }
  }
  if (size > 0) yield Buffer.concat(parts, size);
}

async function readSmall(stream: Readable, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) {
      stream.destroy();
      throw new ManifestInvalidError([`larger than ${limit} bytes`]);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

interface ResolvedManifest {
  manifest: Manifest | null;
  location: string | null;
  problems: VerifyProblem[];
}

export class LegacyArchiver {
  private readonly logger = new Logger('LegacyArchiver');
  private running = false;

  constructor(
    private readonly source: ArchiveSource,
    private readonly target: ArchiveTarget | null,
    private readonly options: LegacyArchiverOptions,
  ) {}

  /** A target is configured (ARCHIVE_DIR or ARCHIVE_S3_BUCKET); without one, archive and verify refuse. */
  get configured(): boolean {
    return this.target !== null;
  }

  /** The target's root (a directory or `s3://bucket/prefix`), or null. */
  describeTarget(): string | null {
    return this.target?.describe() ?? null;
  }

  async archive(run: RunOptions = {}): Promise<Manifest> {
    const target = this.requireTarget();
    if (this.running) throw new ArchiveInProgressError();
    this.running = true;
    try {
      return await this.write(target, run);
    } finally {
      this.running = false;
    }
  }

  /**
   * Checks an archive: the given manifest (as kept by the caller; the stored copy must match it), the
   * manifest at a location or name, or by default the newest manifest of this collection at the target.
   */
  async verify(manifestOrLocation?: Manifest | string, run: RunOptions = {}): Promise<VerifyResult> {
    const target = this.requireTarget();
    const checkedAt = new Date().toISOString();
    const resolved = await this.resolveManifest(target, manifestOrLocation);
    const manifest = resolved.manifest;
    if (!manifest) {
      this.logger.warn({ msg: 'archive verification failed', problems: resolved.problems.map((p) => p.code) });
      return {
        ok: false,
        problems: resolved.problems,
        manifest: null,
        manifestLocation: resolved.location,
        archive: null,
        store: null,
        checkedAt,
      };
    }
    this.logger.log({ msg: 'verifying legacy archive', manifest: resolved.location, documents: manifest.documentCount });
    const [archive, store] = await Promise.all([this.readArchive(target, manifest), this.scanStore(run)]);
    const problems = [
      ...resolved.problems,
      ...checkSource(manifest, this.source),
      ...archive.problems,
      ...(archive.scan ? checkArchive(manifest, archive.scan) : []),
      ...checkStore(manifest, store),
    ];
    const ok = problems.length === 0;
    const summary = {
      manifest: resolved.location,
      documents: manifest.documentCount,
      storeCount: store.count,
      problems: problems.map((p) => p.code),
    };
    if (ok) this.logger.log({ msg: 'legacy archive verified', ...summary });
    else this.logger.warn({ msg: 'legacy archive verification found problems', ...summary });
    return { ok, problems, manifest, manifestLocation: resolved.location, archive: archive.scan, store, checkedAt };
  }

  private requireTarget(): ArchiveTarget {
    if (!this.target) throw new ArchiveNotConfiguredError();
    return this.target;
  }

  private async write(target: ArchiveTarget, run: RunOptions): Promise<Manifest> {
    await target.check();
    const startedAt = new Date();
    const names = archiveNames(this.source.collection, startedAt, randomBytes(4).toString('hex'));
    const estimated = await this.source.estimatedCount();
    const dataLocation = target.locate(names.data);
    this.logger.log({
      msg: 'archiving legacy collection',
      collection: this.source.collection,
      to: dataLocation,
      estimatedDocuments: estimated,
    });

    const content = new NdjsonDigest();
    const tap = new HashingTap();
    const progress = this.progress('archive', estimated, run, () => ({
      documents: content.count,
      contentBytes: content.bytes,
      archiveBytes: tap.bytes,
    }));
    const chunkBytes = this.options.chunkBytes ?? 64 * 1024;
    const body = Readable.from(
      ndjsonChunks(this.source.documents(), content, chunkBytes, () => progress(false)),
      {
        objectMode: false,
        highWaterMark: chunkBytes,
      },
    );
    const piping = pipeline(body, createGzip({ level: this.options.gzipLevel }), tap);
    const storing = target.put(names.data, tap, 'application/gzip').catch((err: Error) => {
      tap.destroy(err); // unblocks and fails the pipeline, which closes the cursor
      throw err;
    });
    const [piped, stored] = await Promise.allSettled([piping, storing]);
    if (piped.status === 'rejected' || stored.status === 'rejected') {
      // A failing source reaches the target as the same error; a failing target only makes the
      // pipeline report an abort. So the target's error, when there is one, names the cause.
      const cause = stored.status === 'rejected' ? stored.reason : (piped as PromiseRejectedResult).reason;
      this.logger.error({
        msg: 'archive failed; no manifest written',
        to: dataLocation,
        documents: content.count,
        error: (cause as Error)?.message,
      });
      throw cause;
    }

    const manifest = buildManifest({
      database: this.source.database,
      collection: this.source.collection,
      names,
      dataLocation,
      documentCount: content.count,
      content: { sha256: content.sha256(), bytes: content.bytes },
      archive: { sha256: tap.sha256(), bytes: tap.bytes },
      firstId: content.firstId,
      lastId: content.lastId,
      startedAt,
      finishedAt: new Date(),
    });
    await target.put(names.manifest, Readable.from([Buffer.from(manifestText(manifest), 'utf8')]), 'application/json');
    progress(true);
    this.logger.log({
      msg: 'legacy collection archived',
      manifest: target.locate(names.manifest),
      documents: manifest.documentCount,
      contentBytes: manifest.content.bytes,
      archiveBytes: manifest.archive.bytes,
    });
    return manifest;
  }

  /** A progress feed for one scan: callbacks at the report interval, log lines at the log interval. */
  private progress(
    stage: ArchiveStage,
    estimated: number,
    run: RunOptions,
    counts: () => { documents: number; contentBytes: number; archiveBytes: number },
  ) {
    const tracker = new ProgressTracker(stage, estimated, {
      reportMs: this.options.progressReportIntervalMs ?? 1000,
      logMs: this.options.progressLogIntervalMs,
    });
    return (done: boolean) => {
      const d = tracker.update(counts(), done);
      if (d.report && run.onProgress) {
        try {
          run.onProgress(d.progress);
        } catch (err) {
          // A broken progress listener must not abort an archive of hours.
          this.logger.warn({ msg: 'progress callback failed', error: (err as Error).message });
        }
      }
      if (d.log && !done) {
        const p = d.progress;
        this.logger.log({
          msg: `${stage} progress`,
          documents: p.documents,
          estimatedTotal: p.estimatedTotal,
          percent: p.percent === null ? null : Math.round(p.percent * 10) / 10,
          docsPerSecond: Math.round(p.docsPerSecond),
          contentMiB: Math.round(p.contentBytes / 1048576),
          archiveMiB: Math.round(p.archiveBytes / 1048576),
          etaSeconds: p.etaSeconds === null ? null : Math.round(p.etaSeconds),
        });
      }
    };
  }

  private async scanStore(run: RunOptions): Promise<StoreScan> {
    const estimated = await this.source.estimatedCount();
    const digest = new NdjsonDigest();
    const progress = this.progress('verify', estimated, run, () => ({
      documents: digest.count,
      contentBytes: digest.bytes,
      archiveBytes: 0,
    }));
    for await (const doc of this.source.documents()) {
      digest.add(doc);
      progress(false);
    }
    const count = await this.source.count();
    progress(true);
    return {
      count,
      documents: digest.count,
      contentSha256: digest.sha256(),
      contentBytes: digest.bytes,
      firstId: digest.firstId,
      lastId: digest.lastId,
    };
  }

  private async readArchive(target: ArchiveTarget, manifest: Manifest): Promise<{ scan: ArchiveScan | null; problems: VerifyProblem[] }> {
    const name = target.nameOf(manifest.archive.name);
    if (name === null)
      return {
        scan: null,
        problems: [problem('MANIFEST_INVALID', `archive.name ${JSON.stringify(manifest.archive.name)} is not an object name`)],
      };
    let data: Readable | null;
    try {
      data = await target.open(name);
    } catch (err) {
      return { scan: null, problems: [problem('ARCHIVE_UNREADABLE', `opening ${target.locate(name)} failed: ${(err as Error).message}`)] };
    }
    if (data === null)
      return {
        scan: null,
        problems: [problem('ARCHIVE_MISSING', `the archive ${target.locate(name)} named by the manifest does not exist`)],
      };
    return { scan: await scanArchive(data), problems: [] };
  }

  private async resolveManifest(target: ArchiveTarget, given: Manifest | string | undefined): Promise<ResolvedManifest> {
    if (given !== undefined && typeof given !== 'string') {
      // The caller's copy is the reference; the stored one must exist and match it.
      const stored = await this.readManifest(target, given.manifestName);
      const problems = stored.manifest ? checkManifestCopy(given, stored.manifest) : stored.problems;
      return { manifest: given, location: stored.location, problems };
    }
    let name: string | null;
    if (given === undefined) {
      name = latestManifestName(await target.list(), this.source.collection);
      if (name === null) {
        return {
          manifest: null,
          location: null,
          problems: [problem('MANIFEST_MISSING', `no archive manifest of ${this.source.collection} at ${target.describe()}`)],
        };
      }
    } else {
      name = target.nameOf(given);
      if (name === null)
        return {
          manifest: null,
          location: given,
          problems: [problem('MANIFEST_MISSING', `${given} is not a location at ${target.describe()}`)],
        };
    }
    return this.readManifest(target, name);
  }

  private async readManifest(target: ArchiveTarget, nameOrLocation: string): Promise<ResolvedManifest> {
    const name = target.nameOf(nameOrLocation);
    if (name === null)
      return {
        manifest: null,
        location: nameOrLocation,
        problems: [problem('MANIFEST_INVALID', `manifest name ${JSON.stringify(nameOrLocation)} is not an object name`)],
      };
    const location = target.locate(name);
    const stream = await target.open(name);
    if (stream === null)
      return { manifest: null, location, problems: [problem('MANIFEST_MISSING', `the manifest ${location} does not exist`)] };
    try {
      return { manifest: parseManifest(await readSmall(stream, MAX_MANIFEST_BYTES)), location, problems: [] };
    } catch (err) {
      if (err instanceof ManifestInvalidError)
        return { manifest: null, location, problems: [problem('MANIFEST_INVALID', `${location}: ${err.message}`)] };
      throw err;
    }
  }
}
