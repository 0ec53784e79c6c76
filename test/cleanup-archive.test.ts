/**
 * The cleanup archive on real servers: a varied legacy collection on the MongoDB-compatible server,
 * archived to a directory and to S3 (moto), checked against an independent digest, verified, corrupted
 * in every way the brief names, and each corruption detected.
 */
import { mkdtemp, readdir, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { HeadObjectCommand, ListMultipartUploadsCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { BSON, Document, MongoClient, ObjectId } from 'mongodb';
import { readArchiveConfig } from '../src/cleanup/archive.config';
import { EMPTY_SHA256 } from '../src/cleanup/archive-format';
import { S3ArchiveTarget } from '../src/cleanup/s3-archive.target';
import type { Manifest } from '../src/cleanup/archive-manifest';
import type { ArchiveProgress } from '../src/cleanup/archive-progress';
import type { AppConfig } from '../src/app-config';
import {
  archiveLines,
  BootedArchiver,
  bootArchiver,
  corrupt,
  createBucket,
  dropBucket,
  getObject,
  independentDigest,
  IndependentDigest,
  motoS3Client,
  motoS3Env,
  putObject,
  sha256,
  variedLegacyDocs,
} from './support/archive';
import { createTestDatabases, TestDatabases } from './support/databases';
import { testConfig } from './support/env';
import { smallLegacyDocs } from './support/sync';

const EXACT = { promoteValues: false, promoteLongs: false, promoteBuffers: false, bsonRegExp: true } as const;
const codes = (r: { problems: Array<{ code: string }> }) => r.problems.map((p) => p.code);

describe('legacy archive (cleanup) on real servers', () => {
  let dbs: TestDatabases;
  let config: AppConfig;
  let mongo: MongoClient;
  let docCount: number;
  const booted: BootedArchiver[] = [];
  const dirs: string[] = [];
  const collection = () => mongo.db(dbs.legacyDbName).collection('conversations');

  async function tempDir(): Promise<string> {
    const dir = await mkdtemp(path.join(tmpdir(), 'lms-archive-'));
    dirs.push(dir);
    return dir;
  }

  async function boot(env: Record<string, string>, overrides: Record<string, string> = {}): Promise<BootedArchiver> {
    const cfg =
      Object.keys(overrides).length > 0
        ? testConfig({ DATABASE_URL: dbs.databaseUrl, LEGACY_MONGO_URL: dbs.legacyUrl, ...overrides })
        : config;
    const b = await bootArchiver(cfg, readArchiveConfig(env));
    booted.push(b);
    return b;
  }

  beforeAll(async () => {
    dbs = await createTestDatabases();
    config = testConfig({ DATABASE_URL: dbs.databaseUrl, LEGACY_MONGO_URL: dbs.legacyUrl });
    mongo = await MongoClient.connect(dbs.legacyUrl);
    const docs = [...smallLegacyDocs(1500, 20260321), ...variedLegacyDocs()];
    for (let i = 0; i < docs.length; i += 200) await collection().insertMany(docs.slice(i, i + 200));
    docCount = docs.length;
  }, 120_000);

  afterAll(async () => {
    for (const b of booted) await b.ctx.close();
    await mongo?.close();
    await dbs?.drop();
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  describe('to a directory', () => {
    let dir: string;
    let archiver: BootedArchiver['archiver'];
    let manifest: Manifest;
    let good: Buffer;
    let expected: IndependentDigest;
    const dataPath = () => path.join(dir, manifest.archive.name);
    const manifestPath = () => path.join(dir, manifest.manifestName);

    /** Runs `check` with the archive's bytes replaced, then puts the good bytes back. */
    async function withArchiveBytes(bytes: Buffer, check: () => Promise<void>): Promise<void> {
      await writeFile(dataPath(), bytes);
      try {
        await check();
      } finally {
        await writeFile(dataPath(), good);
      }
    }

    beforeAll(async () => {
      dir = await tempDir();
      archiver = (await boot({ ARCHIVE_DIR: dir, ARCHIVE_PROGRESS_LOG_MS: '100' })).archiver;
    });

    it('archives every document in _id order as canonical Extended JSON, matching an independent digest', async () => {
      expected = await independentDigest(collection());
      expect(expected.count).toBe(docCount);
      const reports: ArchiveProgress[] = [];
      manifest = await archiver.archive({ onProgress: (p) => reports.push(p) });

      expect((await readdir(dir)).sort()).toEqual([manifest.archive.name, manifest.manifestName].sort());
      expect(JSON.parse(await readFile(manifestPath(), 'utf8'))).toEqual(manifest);
      good = await readFile(dataPath());
      expect(manifest).toMatchObject({
        formatVersion: 1,
        database: dbs.legacyDbName,
        collection: 'conversations',
        documentCount: docCount,
        content: { sha256: expected.sha256, bytes: expected.bytes },
        archive: { name: manifest.archive.name, location: dataPath(), sha256: sha256(good), bytes: good.length, compression: 'gzip' },
      });
      expect(Date.parse(manifest.finishedAt)).toBeGreaterThanOrEqual(Date.parse(manifest.startedAt));

      // Every line parses back to exactly the BSON the server holds: every type round-trips.
      const lines = archiveLines(good);
      expect(lines).toHaveLength(docCount);
      const differing = lines.flatMap((line, i) =>
        Buffer.from(BSON.serialize(BSON.EJSON.parse(line, { relaxed: false }) as Document)).equals(expected.raws[i]) ? [] : [i],
      );
      expect(differing).toEqual([]);
      expect(manifest.firstId).toEqual(JSON.parse(lines[0])._id);
      expect(manifest.lastId).toEqual(JSON.parse(lines[lines.length - 1])._id);
      // String and numeric ids are archived with their type.
      expect(lines.some((l) => l.startsWith('{"_id":"legacy-string-id-1",'))).toBe(true);
      expect(lines.some((l) => l.startsWith('{"_id":{"$numberInt":"42"},'))).toBe(true);

      const last = reports[reports.length - 1];
      expect(last).toMatchObject({
        stage: 'archive',
        documents: docCount,
        estimatedTotal: docCount,
        done: true,
        etaSeconds: 0,
        contentBytes: expected.bytes,
        archiveBytes: good.length,
      });
    });

    it('verifies the archive against its manifest and the live collection, however it is named', async () => {
      for (const arg of [undefined, manifest, manifest.manifestName, manifestPath()]) {
        const result = await archiver.verify(arg);
        expect({ arg, problems: result.problems }).toEqual({ arg, problems: [] });
        expect(result).toMatchObject({
          ok: true,
          manifestLocation: manifestPath(),
          archive: { lines: docCount, gzipSha256: manifest.archive.sha256, contentSha256: manifest.content.sha256 },
          store: { count: docCount, documents: docCount, contentSha256: manifest.content.sha256 },
        });
      }
    });

    it('detects a flipped byte in the gzip', async () => {
      await withArchiveBytes(corrupt.flipByte(good), async () => {
        const result = await archiver.verify(manifest);
        expect(result.ok).toBe(false);
        expect(codes(result)[0]).toBe('GZIP_CHECKSUM_DIFFERS');
        // Deflate or the gzip CRC catches it; either way the content is not accepted.
        expect(codes(result).slice(1)).toEqual([expect.stringMatching(/^(ARCHIVE_UNREADABLE|CONTENT_CHECKSUM_DIFFERS)$/)]);
      });
    });

    it('detects a truncated archive', async () => {
      await withArchiveBytes(corrupt.truncate(good), async () => {
        const result = await archiver.verify(manifest);
        expect(codes(result)).toEqual(['GZIP_CHECKSUM_DIFFERS', 'ARCHIVE_UNREADABLE']);
        expect(result.problems[1].message).toMatch(/truncated|unexpected end/);
      });
    });

    it('detects a line replaced by altered content in a valid gzip', async () => {
      const altered = corrupt.alterLine(good, 10, (doc) => {
        doc.title = 'tampered';
      });
      await withArchiveBytes(altered, async () => {
        const result = await archiver.verify();
        expect(codes(result)).toEqual(['GZIP_CHECKSUM_DIFFERS', 'CONTENT_CHECKSUM_DIFFERS']);
        expect(result.archive).toMatchObject({ lines: docCount });
      });
    });

    it('detects a missing document (a valid gzip without its last line)', async () => {
      await withArchiveBytes(corrupt.dropLastLine(good), async () => {
        expect(codes(await archiver.verify(manifest))).toEqual([
          'GZIP_CHECKSUM_DIFFERS',
          'CONTENT_CHECKSUM_DIFFERS',
          'COUNT_DIFFERS',
          'ID_RANGE_DIFFERS',
        ]);
      });
    });

    it('detects a missing archive or manifest', async () => {
      await unlink(dataPath());
      try {
        expect(codes(await archiver.verify(manifest))).toEqual(['ARCHIVE_MISSING']);
      } finally {
        await writeFile(dataPath(), good);
      }
      const manifestBytes = await readFile(manifestPath());
      await unlink(manifestPath());
      try {
        expect(codes(await archiver.verify(manifest))).toEqual(['MANIFEST_MISSING']);
        expect(await archiver.verify()).toMatchObject({ ok: false, manifest: null, problems: [{ code: 'MANIFEST_MISSING' }] });
      } finally {
        await writeFile(manifestPath(), manifestBytes);
      }
      expect((await archiver.verify()).ok).toBe(true);
    });

    it('detects a legacy collection that changed after the archive', async () => {
      const extra = { _id: new ObjectId(), user_id: 'late-writer', created: new Date() };
      await collection().insertOne(extra);
      try {
        expect(codes(await archiver.verify(manifest))).toEqual(['STORE_COUNT_DIFFERS', 'STORE_CHECKSUM_DIFFERS']);
      } finally {
        await collection().deleteOne({ _id: extra._id });
      }

      const victim = (await collection().find({ user_id: 'unicode-用户' }, EXACT).toArray())[0];
      await collection().updateOne({ _id: victim._id }, { $set: { title: 'edited after the archive' } });
      try {
        expect(codes(await archiver.verify(manifest))).toEqual(['STORE_CHECKSUM_DIFFERS']);
      } finally {
        await collection().replaceOne({ _id: victim._id }, victim);
      }
      expect((await archiver.verify(manifest)).problems).toEqual([]);
    });
  });

  describe('to an S3 bucket (moto)', () => {
    let s3: S3Client;
    let bucket: string;
    const prefix = `cleanup/run-${Date.now()}/`;

    beforeAll(async () => {
      s3 = motoS3Client();
      bucket = await createBucket(s3);
    });

    afterAll(async () => {
      if (bucket) await dropBucket(s3, bucket);
      s3?.destroy();
    });

    it('streams the archive up in parts, verifies it, and detects an overwritten object', async () => {
      const { archiver } = await boot({
        ...motoS3Env(),
        ARCHIVE_S3_BUCKET: bucket,
        ARCHIVE_S3_PREFIX: prefix,
        ARCHIVE_S3_PART_SIZE_MB: '5',
      });
      const expected = await independentDigest(collection());
      const manifest = await archiver.archive();
      const key = `${prefix}${manifest.archive.name}`;
      expect(manifest.archive.location).toBe(`s3://${bucket}/${key}`);
      expect(manifest).toMatchObject({ documentCount: docCount, content: { sha256: expected.sha256, bytes: expected.bytes } });

      // Read back independently: the stored bytes are the manifest's, and the object went up in parts.
      const stored = await getObject(s3, bucket, key);
      expect({ sha256: sha256(stored), bytes: stored.length }).toEqual({ sha256: manifest.archive.sha256, bytes: manifest.archive.bytes });
      expect(stored.length).toBeGreaterThan(5 * 1024 * 1024);
      expect((await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }))).ETag).toMatch(/-2"$/);
      expect(JSON.parse((await getObject(s3, bucket, `${prefix}${manifest.manifestName}`)).toString('utf8'))).toEqual(manifest);

      expect(await archiver.verify()).toMatchObject({
        ok: true,
        problems: [],
        manifestLocation: `s3://${bucket}/${prefix}${manifest.manifestName}`,
      });
      expect((await archiver.verify(manifest)).ok).toBe(true);

      await putObject(
        s3,
        bucket,
        key,
        corrupt.alterLine(stored, 3, (doc) => {
          doc.user_id = 'someone-else';
        }),
      );
      expect(codes(await archiver.verify(manifest))).toEqual(['GZIP_CHECKSUM_DIFFERS', 'CONTENT_CHECKSUM_DIFFERS']);
      await putObject(s3, bucket, key, corrupt.truncate(stored));
      expect(codes(await archiver.verify(manifest))).toEqual(['GZIP_CHECKSUM_DIFFERS', 'ARCHIVE_UNREADABLE']);
      await putObject(s3, bucket, key, stored);
      expect((await archiver.verify(manifest)).problems).toEqual([]);
    });

    it('aborts the multipart upload when the data fails midway: no object and no stored parts remain', async () => {
      const failing = `${prefix}failing/`;
      const target = new S3ArchiveTarget(motoS3Client(), { bucket, prefix: failing, partSizeBytes: 5 * 1024 * 1024 });
      async function* twoPartsThenAFault() {
        for (let i = 0; i < 6; i++) yield randomBytes(1024 * 1024);
        throw new Error('the cursor died');
      }
      try {
        await expect(target.put('archive.ndjson.gz', Readable.from(twoPartsThenAFault()), 'application/gzip')).rejects.toThrow(
          'the cursor died',
        );
      } finally {
        await target.close();
      }
      expect((await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: failing }))).KeyCount ?? 0).toBe(0);
      expect((await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: failing }))).Uploads ?? []).toEqual([]);
    });
  });

  it('archives an empty collection to count 0 and verifies it', async () => {
    const dir = await tempDir();
    const { archiver } = await boot({ ARCHIVE_DIR: dir }, { LEGACY_COLLECTION: 'empty_conversations' });
    expect(await mongo.db(dbs.legacyDbName).collection('empty_conversations').countDocuments({})).toBe(0);
    const manifest = await archiver.archive();
    expect(manifest).toMatchObject({
      collection: 'empty_conversations',
      documentCount: 0,
      content: { sha256: EMPTY_SHA256, bytes: 0 },
      firstId: null,
      lastId: null,
    });
    expect(archiveLines(await readFile(path.join(dir, manifest.archive.name)))).toEqual([]);
    expect(await archiver.verify()).toMatchObject({ ok: true, problems: [], store: { count: 0 } });
  });

  it('without a target, the service still starts and the archiver refuses with a clear code', async () => {
    const b = await bootArchiver(config, null);
    booted.push(b);
    expect(b.archiver.configured).toBe(false);
    await expect(b.archiver.archive()).rejects.toMatchObject({
      code: 'ARCHIVE_NOT_CONFIGURED',
      message: expect.stringMatching(/ARCHIVE_DIR or ARCHIVE_S3_BUCKET/),
    });
  });
});
