/**
 * Helpers for the legacy archive tests: the archiver booted as the service builds it (StoresModule's
 * LEGACY_DB + CleanupModule), varied legacy documents, an independent digest of a collection (raw BSON
 * from the server, serialised here), S3 on moto, and the ways an archive gets corrupted.
 */
import { createHash, randomBytes } from 'node:crypto';
import { DynamicModule, INestApplicationContext, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { gunzipSync, gzipSync } from 'node:zlib';
import { Binary, BSON, BSONRegExp, Collection, Document, Double, Int32, Long, ObjectId, Timestamp } from 'mongodb';
import type { AppConfig } from '../../src/app-config';
import { ConfigModule } from '../../src/app-config.module';
import type { ArchiveConfig } from '../../src/cleanup/archive.config';
import { CleanupModule } from '../../src/cleanup/cleanup.module';
import { LegacyArchiver } from '../../src/cleanup/legacy-archiver';
import { StoresModule } from '../../src/stores/stores.module';
import { servicesEnv } from './env';

@Module({})
class ArchiveTestModule {
  static forRoot(config: AppConfig, archive: ArchiveConfig | null): DynamicModule {
    return { module: ArchiveTestModule, imports: [ConfigModule.forRoot(config), StoresModule, CleanupModule.forRoot({ archive })] };
  }
}

export interface BootedArchiver {
  archiver: LegacyArchiver;
  ctx: INestApplicationContext;
}

export async function bootArchiver(config: AppConfig, archive: ArchiveConfig | null): Promise<BootedArchiver> {
  const ctx = await NestFactory.createApplicationContext(ArchiveTestModule.forRoot(config, archive), {
    logger: process.env.TEST_LOGS ? undefined : false,
    abortOnError: false,
  });
  await ctx.init();
  return { archiver: ctx.get(LegacyArchiver), ctx };
}

/** BSON options that keep every type as stored (the archive's promise); applied here, not by the code under test. */
const EXACT = { promoteValues: false, promoteLongs: false, promoteBuffers: false, bsonRegExp: true } as const;

export interface IndependentDigest {
  count: number;
  sha256: string;
  bytes: number;
  /** Raw BSON of each document, in `_id` order. */
  raws: Buffer[];
}

/** The collection's NDJSON digest computed from the raw BSON the server returns, in `_id` order. */
export async function independentDigest(collection: Collection<Document>): Promise<IndependentDigest> {
  const raws = (await collection.find({}, { raw: true, sort: { _id: 1 } }).toArray()) as unknown as Buffer[];
  const hash = createHash('sha256');
  let bytes = 0;
  for (const raw of raws) {
    const line = Buffer.from(`${BSON.EJSON.stringify(BSON.deserialize(raw, EXACT), { relaxed: false })}\n`, 'utf8');
    hash.update(line);
    bytes += line.length;
  }
  return { count: raws.length, sha256: hash.digest('hex'), bytes, raws: raws.map((r) => Buffer.from(r)) };
}

export const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Lines of a gzip NDJSON archive, without the final empty string. */
export function archiveLines(gz: Buffer): string[] {
  const text = gunzipSync(gz).toString('utf8');
  expect(text.endsWith('\n') || text === '').toBe(true);
  return text === '' ? [] : text.slice(0, -1).split('\n');
}

/**
 * Legacy documents beyond the generator's: every BSON type FerretDB stores, string and numeric ids,
 * missing fields, nested arrays inside objects, unicode (keys too), control characters, and one large
 * document with an incompressible 6 MiB binary (so its gzip needs more than one 5 MiB S3 part).
 */
export function variedLegacyDocs(): Document[] {
  const ts = new Date('2021-06-01T12:34:56.789Z');
  return [
    {
      _id: 'legacy-string-id-1',
      userId: 'old-user',
      created: '2015-03-01T00:00:00Z',
      messages: [{ role: 'USER', content: 'old format', ts: 1425168000000 }],
    },
    { _id: '5f1d7a3b2c4e6f8a9b0c1d2e', user_id: 'hex-as-string', created: ts },
    { _id: new Int32(42), user_id: 'numeric-id', created: ts },
    { _id: new ObjectId(), user_id: 'bare' },
    { _id: new ObjectId(), user_id: 'u-null', title: null, messages: [], meta: {}, created: ts, deleted: true },
    {
      _id: new ObjectId(),
      user_id: 'types',
      created: ts,
      v: new Int32(7),
      meta: {
        long: Long.fromString('9007199254740993'),
        negLong: Long.fromString('-42'),
        double: new Double(2),
        frac: 0.1,
        big: 1e300,
        bin: new Binary(Buffer.from([0, 1, 2, 253, 254, 255])),
        uuid: new Binary(randomBytes(16), 4),
        stamp: new Timestamp({ t: 1_700_000_000, i: 3 }),
        re: new BSONRegExp('^a.b$', 'imsx'),
        old: new Date('1901-02-03T04:05:06.007Z'),
        far: new Date('2999-12-31T23:59:59.999Z'),
        yes: true,
        no: false,
        nothing: null,
      },
    },
    {
      _id: new ObjectId(),
      user_id: 'nested',
      created: ts,
      messages: [
        { role: 'tool', text: 'result', ts, parts: [{ kind: 'table', rows: [{ cells: ['a', 'b'] }, { cells: [] }] }] },
        { role: 'assistant', text: 'ok', ts: ts.toISOString() },
      ],
      meta: { a: { b: { c: { d: { e: { f: { g: { h: ['deep', { i: [1, 2, 3] }] } } } } } } } },
    },
    {
      _id: new ObjectId(),
      user_id: 'unicode-用户',
      title: 'Grüße ✈️ 日本語 עברית 👩‍👩‍👧 e\u0301',
      created: ts,
      messages: [{ role: 'user', text: 'line1\nline2\r\n\t"quoted" \\back\\ \u0000nul \u2028sep\u2029 \u0007bell', ts }],
      meta: { ключ: 'значение', 'emoji🔑': '🗝️', 'spaces in key': 1 },
    },
    {
      _id: new ObjectId(),
      user_id: 'large',
      created: ts,
      messages: [{ role: 'user', text: `big ${'lorem ipsum dolor sit amet '.repeat(40_000)}`, ts }],
      meta: { blob: new Binary(randomBytes(6 * 1024 * 1024)) },
    },
  ];
}

/** moto_server (started by `npm run services:up`) as an S3 endpoint, with its dummy credentials. */
export function motoS3Env(): Record<string, string> {
  const env = servicesEnv();
  const endpoint = env.AWS_ENDPOINT_URL ?? (env.MOTO_PORT ? `http://127.0.0.1:${env.MOTO_PORT}` : undefined);
  if (!endpoint) throw new Error('AWS_ENDPOINT_URL (or MOTO_PORT) is not set: run `npm run services:up`');
  return {
    AWS_ENDPOINT_URL: endpoint,
    AWS_REGION: env.AWS_REGION ?? 'us-east-1',
    AWS_ACCESS_KEY_ID: env.AWS_ACCESS_KEY_ID ?? 'testing',
    AWS_SECRET_ACCESS_KEY: env.AWS_SECRET_ACCESS_KEY ?? 'testing',
  };
}

/** A plain S3 client on moto: the independent observer the tests read and tamper through. */
export function motoS3Client(): S3Client {
  const env = motoS3Env();
  return new S3Client({
    endpoint: env.AWS_ENDPOINT_URL,
    region: env.AWS_REGION,
    forcePathStyle: true,
    credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY },
  });
}

export async function createBucket(s3: S3Client): Promise<string> {
  const bucket = `lms-archive-${randomBytes(5).toString('hex')}`;
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  return bucket;
}

export async function dropBucket(s3: S3Client, bucket: string): Promise<void> {
  const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
  const keys = (listed.Contents ?? []).map((o) => ({ Key: o.Key! }));
  if (keys.length > 0) await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys } }));
  await s3.send(new DeleteBucketCommand({ Bucket: bucket }));
}

export async function getObject(s3: S3Client, bucket: string, key: string): Promise<Buffer> {
  const res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from(await res.Body!.transformToByteArray());
}

export async function putObject(s3: S3Client, bucket: string, key: string, body: Buffer): Promise<void> {
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
}

/** Corruptions of a stored archive; each returns new bytes. */
export const corrupt = {
  flipByte(gz: Buffer, at = Math.floor(gz.length / 2)): Buffer {
    const out = Buffer.from(gz);
    out[at] ^= 0xff;
    return out;
  },
  truncate(gz: Buffer, keep = Math.floor(gz.length / 2)): Buffer {
    return Buffer.from(gz.subarray(0, keep));
  },
  /** A valid gzip whose line `index` holds a changed (still well-formed) document. */
  alterLine(gz: Buffer, index: number, change: (doc: Document) => void): Buffer {
    const lines = archiveLines(gz);
    const doc = BSON.EJSON.parse(lines[index], { relaxed: false }) as Document;
    change(doc);
    lines[index] = BSON.EJSON.stringify(doc, { relaxed: false });
    return gzipSync(Buffer.from(`${lines.join('\n')}\n`, 'utf8'));
  },
  /** A valid gzip without its last line. */
  dropLastLine(gz: Buffer): Buffer {
    const lines = archiveLines(gz).slice(0, -1);
    return gzipSync(Buffer.from(lines.map((l) => `${l}\n`).join(''), 'utf8'));
  },
};
