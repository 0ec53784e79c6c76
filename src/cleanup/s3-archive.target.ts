/**
 * Archives in an S3 bucket, under an optional key prefix. The data object is streamed in parts
 * (s3-multipart-upload.ts) and becomes visible only when the upload completes; the manifest is one
 * small PutObject, which S3 applies atomically.
 */
import { GetObjectCommand, HeadBucketCommand, ListObjectsV2Command, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { Readable } from 'node:stream';
import type { AwsCredentialsProvider } from '../config/aws-credentials';
import { ArchiveTarget, assertObjectName } from './archive-target.port';
import { uploadStream } from './s3-multipart-upload';

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

function isNotFound(err: unknown): boolean {
  return err instanceof S3ServiceException && (err.name === 'NoSuchKey' || err.name === 'NotFound' || err.$metadata?.httpStatusCode === 404);
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
      throw new Error(`archive bucket ${this.settings.bucket} is not usable${status ? ` (HTTP ${status})` : ''}: ${(err as Error).name} ${(err as Error).message}`);
    }
  }

  async put(name: string, data: Readable, contentType: string): Promise<void> {
    try {
      await uploadStream(this.client, { Bucket: this.settings.bucket, Key: this.key(name), ContentType: contentType }, data, this.settings.partSizeBytes);
    } catch (err) {
      data.destroy();
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
