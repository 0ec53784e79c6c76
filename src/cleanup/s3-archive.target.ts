/**
 * Archives in an S3 bucket, under an optional key prefix. The data object is streamed in parts by
 * `@aws-sdk/lib-storage`'s Upload and becomes visible only when the upload completes; a body smaller
 * than one part is a single PutObject. Two parts go up at once, so about two parts are in memory and
 * the archive's pipeline is paused (backpressure) while both are on the wire. On any failure the
 * multipart upload is aborted, so no object and no stored parts remain. Parts carry CRC32 checksums.
 * The manifest goes through the same path: one small PutObject, which S3 applies atomically.
 */
import { GetObjectCommand, HeadBucketCommand, ListObjectsV2Command, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { Readable } from 'node:stream';
import type { AwsCredentialsProvider } from '../config/aws-credentials';
import { ArchiveTarget, assertObjectName } from './archive-target.port';

export interface S3ArchiveSettings {
  bucket: string;
  /** Empty, or ends with `/`. */
  prefix: string;
  region: string;
  endpoint?: string;
  forcePathStyle: boolean;
  credentials?: AwsCredentialsProvider;
  partSizeBytes: number;
}

export function createS3Client(s: Pick<S3ArchiveSettings, 'region' | 'endpoint' | 'forcePathStyle' | 'credentials'>): S3Client {
  return new S3Client({
    region: s.region,
    forcePathStyle: s.forcePathStyle,
    ...(s.endpoint ? { endpoint: s.endpoint } : {}),
    ...(s.credentials ? { credentials: s.credentials } : {}),
  });
}

/** Parts uploading at once; each holds one part in memory. */
const PARTS_IN_FLIGHT = 2;

function isNotFound(err: unknown): boolean {
  return (
    err instanceof S3ServiceException && (err.name === 'NoSuchKey' || err.name === 'NotFound' || err.$metadata?.httpStatusCode === 404)
  );
}

export class S3ArchiveTarget implements ArchiveTarget {
  constructor(
    private readonly client: S3Client,
    private readonly settings: Pick<S3ArchiveSettings, 'bucket' | 'prefix' | 'partSizeBytes'>,
  ) {}

  describe(): string {
    return `s3://${this.settings.bucket}/${this.settings.prefix}`;
  }

  locate(name: string): string {
    return `s3://${this.settings.bucket}/${this.key(name)}`;
  }

  nameOf(location: string): string | null {
    const root = this.describe();
    const name = location.startsWith('s3://') ? (location.startsWith(root) ? location.slice(root.length) : null) : location;
    if (name === null) return null;
    try {
      assertObjectName(name);
      return name;
    } catch {
      return null;
    }
  }

  async check(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.settings.bucket }));
    } catch (err) {
      const status = (err as S3ServiceException).$metadata?.httpStatusCode;
      throw new Error(
        `archive bucket ${this.settings.bucket} is not usable${status ? ` (HTTP ${status})` : ''}: ${(err as Error).name} ${(err as Error).message}`,
        {
          cause: err,
        },
      );
    }
  }

  async put(name: string, data: Readable, contentType: string): Promise<void> {
    const upload = new Upload({
      client: this.client,
      params: {
        Bucket: this.settings.bucket,
        Key: this.key(name),
        ContentType: contentType,
        Body: data,
        ChecksumAlgorithm: 'CRC32',
      },
      partSize: this.settings.partSizeBytes,
      queueSize: PARTS_IN_FLIGHT,
      leavePartsOnError: false,
    });
    try {
      await upload.done();
    } catch (err) {
      data.destroy();
      // S3 takes at most 10,000 parts; the part size is the operator's to raise.
      if (err instanceof Error && /^Exceeded \d+ parts/.test(err.message)) {
        throw new Error(`${err.message} Raise ARCHIVE_S3_PART_SIZE_MB (now ${this.settings.partSizeBytes / 1024 / 1024}).`, { cause: err });
      }
      throw err;
    }
  }

  async open(name: string): Promise<Readable | null> {
    try {
      const res = await this.client.send(new GetObjectCommand({ Bucket: this.settings.bucket, Key: this.key(name) }));
      const body = res.Body;
      if (body instanceof Readable) return body;
      throw new Error(`unexpected GetObject body type for ${this.locate(name)}`);
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  }

  async list(): Promise<string[]> {
    const names: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.client.send(
        new ListObjectsV2Command({ Bucket: this.settings.bucket, Prefix: this.settings.prefix || undefined, ContinuationToken: token }),
      );
      for (const o of page.Contents ?? []) {
        const name = o.Key?.slice(this.settings.prefix.length);
        if (name && !name.includes('/')) names.push(name);
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return names;
  }

  async close(): Promise<void> {
    this.client.destroy();
  }

  private key(name: string): string {
    assertObjectName(name);
    return `${this.settings.prefix}${name}`;
  }
}
