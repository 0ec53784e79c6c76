/**
 * Streams a body of unknown length into one S3 object with bounded memory (`@aws-sdk/lib-storage` is not
 * a dependency of this project). Chunks are gathered into parts of at least `partSize` bytes; one part
 * uploads while the next fills, so at most about two parts are in memory and the reader is paused
 * (backpressure) while both slots are busy. A body smaller than one part is a single PutObject with a
 * known length. On any failure the multipart upload is aborted, so no object (and no stored parts)
 * remain. Parts carry CRC32 checksums, named on CreateMultipartUpload so S3 accepts them on completion.
 */
import {
  AbortMultipartUploadCommand,
  CompletedPart,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';

/** S3's floor for every part but the last, and its ceiling on the number of parts. */
export const MIN_PART_SIZE = 5 * 1024 * 1024;
export const MAX_PARTS = 10_000;

export interface UploadTarget {
  Bucket: string;
  Key: string;
  ContentType: string;
}

export async function uploadStream(client: S3Client, target: UploadTarget, body: AsyncIterable<Buffer | string>, partSize: number): Promise<{ bytes: number; parts: number }> {
  if (partSize < MIN_PART_SIZE) throw new RangeError(`part size must be at least ${MIN_PART_SIZE} bytes`);
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let total = 0;
  let uploadId: string | undefined;
  const parts: CompletedPart[] = [];
  let inFlight: Promise<void> | undefined;

  const startPart = async (data: Buffer): Promise<void> => {
    await inFlight; // one part on the wire at a time; its error surfaces here
    if (parts.length >= MAX_PARTS) {
      throw new Error(`archive exceeds ${MAX_PARTS} parts of ${partSize} bytes: raise ARCHIVE_S3_PART_SIZE_MB`);
    }
    uploadId ??= (await client.send(new CreateMultipartUploadCommand({ ...target, ChecksumAlgorithm: 'CRC32' }))).UploadId;
    if (!uploadId) throw new Error(`S3 returned no UploadId for s3://${target.Bucket}/${target.Key}`);
    const PartNumber = parts.length + 1;
    const slot: CompletedPart = { PartNumber };
    parts.push(slot);
    const id = uploadId;
    inFlight = (async () => {
      const res = await client.send(
        new UploadPartCommand({ Bucket: target.Bucket, Key: target.Key, UploadId: id, PartNumber, Body: data, ContentLength: data.length, ChecksumAlgorithm: 'CRC32' }),
      );
      slot.ETag = res.ETag;
      slot.ChecksumCRC32 = res.ChecksumCRC32;
    })();
    inFlight.catch(() => undefined); // observed by the next await
  };

  const takePending = (): Buffer => {
    const data = Buffer.concat(pending, pendingBytes);
    pending = [];
    pendingBytes = 0;
    return data;
  };

  try {
    for await (const chunk of body) {
      const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      pending.push(buf);
      pendingBytes += buf.length;
      total += buf.length;
      if (pendingBytes >= partSize) await startPart(takePending());
    }
    if (uploadId === undefined && inFlight === undefined) {
      const data = takePending();
      await client.send(new PutObjectCommand({ ...target, Body: data, ContentLength: data.length }));
      return { bytes: total, parts: 1 };
    }
    if (pendingBytes > 0) await startPart(takePending());
    await inFlight;
    await client.send(new CompleteMultipartUploadCommand({ Bucket: target.Bucket, Key: target.Key, UploadId: uploadId, MultipartUpload: { Parts: parts } }));
    return { bytes: total, parts: parts.length };
  } catch (err) {
    await inFlight?.catch(() => undefined);
    if (uploadId !== undefined) {
      await client
        .send(new AbortMultipartUploadCommand({ Bucket: target.Bucket, Key: target.Key, UploadId: uploadId }))
        .catch(() => undefined); // the original error is the one to report; a bucket lifecycle rule reaps leftovers
    }
    throw err;
  }
}
