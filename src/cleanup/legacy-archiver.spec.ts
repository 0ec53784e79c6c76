import { createHash, randomBytes } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { Logger } from '@nestjs/common';
import { BSON, Binary, Document, Int32, Long, ObjectId, Timestamp } from 'mongodb';
import { ArchiveInProgressError, ArchiveNotConfiguredError } from './archive-errors';
import { documentLine, EMPTY_SHA256 } from './archive-format';
import type { ArchiveProgress } from './archive-progress';
import type { ArchiveSource } from './archive-source.port';
import { LegacyArchiver } from './legacy-archiver';
import { MemoryArchiveTarget } from './testing/memory-archive.target';

class FakeSource implements ArchiveSource {
  readonly database = 'legacy';
  readonly collection = 'conversations';
  produced = 0;
  closed = 0;

  constructor(
    public docs: () => Iterable<Document>,
    private readonly estimate: number,
    public failAfter?: number,
  ) {}

  async estimatedCount(): Promise<number> {
    return this.estimate;
  }

  async count(): Promise<number> {
    return [...this.docs()].length;
  }

  async *documents(): AsyncIterable<Document> {
    this.produced = 0;
    try {
      for (const doc of this.docs()) {
        if (this.failAfter !== undefined && this.produced >= this.failAfter) throw new Error('cursor killed');
        this.produced += 1;
        yield doc;
      }
    } finally {
      this.closed += 1;
    }
  }
}

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
const oid = (n: number) => new ObjectId(n.toString(16).padStart(24, '0'));

function sampleDocs(): Document[] {
  return [
    {
      _id: oid(1),
      user_id: 'u1',
      title: 'Grüße ✈️ 日本語',
      messages: [{ role: 'user', text: 'hi\nthere', ts: new Date('2020-01-01T00:00:00.123Z') }],
      v: new Int32(3),
    },
    {
      _id: oid(2),
      userId: 'u2',
      created: '2019-05-01T10:00:00Z',
      meta: { n: Long.fromString('9007199254740993'), tags: ['a', { deep: [1, 2] }] },
    },
    {
      _id: oid(3),
      user_id: 'u3',
      title: null,
      bin: new Binary(Buffer.from([0, 1, 2, 255])),
      ts: new Timestamp({ t: 5, i: 1 }),
      d: new BSON.Double(2),
    },
    { _id: 'legacy-string-id', user_id: 'u4', nul: 'a\u0000b', sep: 'x\u2028y' },
  ];
}

function archiverOn(source: ArchiveSource, target: MemoryArchiveTarget | null): LegacyArchiver {
  return new LegacyArchiver(source, target, { gzipLevel: 6, progressLogIntervalMs: 60_000, progressReportIntervalMs: 0, chunkBytes: 1024 });
}

/** Lets streams and the thread pool work until the source stops producing (or a turn cap is reached). */
async function settle(source: FakeSource): Promise<void> {
  let last = -1;
  let stable = 0;
  for (let turn = 0; turn < 5000 && stable < 200; turn++) {
    await new Promise((resolve) => setImmediate(resolve));
    stable = source.produced === last ? stable + 1 : 0;
    last = source.produced;
  }
}

describe('LegacyArchiver (fake source, in-memory target)', () => {
  beforeAll(() => Logger.overrideLogger(false));

  it('archives every document as one canonical Extended JSON line, data first, manifest last', async () => {
    const docs = sampleDocs();
    const target = new MemoryArchiveTarget();
    const source = new FakeSource(() => docs, 4);
    const reports: ArchiveProgress[] = [];
    const manifest = await archiverOn(source, target).archive({ onProgress: (p) => reports.push(p) });

    const expected = Buffer.from(docs.map(documentLine).join(''), 'utf8');
    const gz = target.objects.get(manifest.archive.name)!;
    expect(gunzipSync(gz).equals(expected)).toBe(true);
    expect(manifest).toMatchObject({
      collection: 'conversations',
      database: 'legacy',
      documentCount: 4,
      content: { sha256: sha(expected), bytes: expected.length },
      archive: { sha256: sha(gz), bytes: gz.length, location: `memory:/${manifest.archive.name}` },
      firstId: { $oid: oid(1).toHexString() },
      lastId: 'legacy-string-id',
    });
    expect([...target.objects.keys()]).toEqual([manifest.archive.name, manifest.manifestName]);
    expect(JSON.parse(target.objects.get(manifest.manifestName)!.toString())).toEqual(manifest);
    expect(source.closed).toBe(1);

    // Every line parses back to exactly the BSON of its document.
    const lines = gunzipSync(gz).toString('utf8').split('\n').slice(0, -1);
    lines.forEach((line, i) =>
      expect(
        Buffer.from(BSON.serialize(BSON.EJSON.parse(line, { relaxed: false }) as Document)).equals(Buffer.from(BSON.serialize(docs[i]))),
      ).toBe(true),
    );

    expect(reports.length).toBeGreaterThan(1);
    expect(reports[reports.length - 1]).toMatchObject({
      stage: 'archive',
      documents: 4,
      done: true,
      etaSeconds: 0,
      contentBytes: expected.length,
      archiveBytes: gz.length,
    });
  });

  it('verifies its archive, and names what changed in the store or the target', async () => {
    let docs = sampleDocs();
    const target = new MemoryArchiveTarget();
    const source = new FakeSource(() => docs, 4);
    const archiver = archiverOn(source, target);
    const manifest = await archiver.archive();

    for (const arg of [undefined, manifest, manifest.manifestName, `memory:/${manifest.manifestName}`]) {
      const result = await archiver.verify(arg);
      expect({ arg, problems: result.problems }).toEqual({ arg, problems: [] });
      expect(result.ok).toBe(true);
      expect(result.store).toMatchObject({ count: 4, documents: 4, contentSha256: manifest.content.sha256 });
      expect(result.archive).toMatchObject({ lines: 4, gzipSha256: manifest.archive.sha256 });
    }

    docs = [...docs, { _id: oid(4), user_id: 'late writer' }];
    expect((await archiver.verify(manifest)).problems.map((p) => p.code)).toEqual(['STORE_COUNT_DIFFERS', 'STORE_CHECKSUM_DIFFERS']);
    docs = sampleDocs();

    target.objects.delete(manifest.manifestName);
    expect((await archiver.verify(manifest)).problems.map((p) => p.code)).toEqual(['MANIFEST_MISSING']);
    const none = await archiver.verify();
    expect(none).toMatchObject({ ok: false, manifest: null, problems: [{ code: 'MANIFEST_MISSING' }] });
    expect((await archiver.verify('/elsewhere/x.manifest.json')).problems.map((p) => p.code)).toEqual(['MANIFEST_MISSING']);

    target.objects.set(manifest.manifestName, Buffer.from('{"formatVersion":1}'));
    expect((await archiver.verify()).problems.map((p) => p.code)).toEqual(['MANIFEST_INVALID']);
    expect((await archiver.verify(manifest)).problems.map((p) => p.code)).toEqual(['MANIFEST_INVALID']);

    target.objects.delete(manifest.archive.name);
    expect((await archiver.verify(manifest)).problems.map((p) => p.code)).toEqual(['MANIFEST_INVALID', 'ARCHIVE_MISSING']);
  });

  it('archives an empty collection as count 0 and verifies it', async () => {
    const target = new MemoryArchiveTarget();
    const archiver = archiverOn(new FakeSource(() => [], 0), target);
    const manifest = await archiver.archive();
    expect(manifest).toMatchObject({ documentCount: 0, content: { sha256: EMPTY_SHA256, bytes: 0 }, firstId: null, lastId: null });
    expect(await archiver.verify()).toMatchObject({ ok: true, problems: [] });
  });

  it('holds back the cursor while the target does not read (bounded memory), and cleans up when it fails', async () => {
    const total = 1_000_000;
    const target = new MemoryArchiveTarget();
    target.stallAfterChunks = 1;
    const source = new FakeSource(function* () {
      for (let i = 0; i < total; i++) yield { _id: oid(i + 1), text: randomBytes(600).toString('base64') };
    }, total);
    const archiving = archiverOn(source, target).archive();
    archiving.catch(() => undefined);
    await target.stalled;
    await settle(source);
    // Only the streams' buffers (a few hundred KiB) are ahead of the target, not the collection.
    expect(source.produced).toBeGreaterThan(0);
    expect(source.produced).toBeLessThan(5_000);

    target.release(new Error('bucket went away'));
    await expect(archiving).rejects.toThrow('bucket went away');
    expect(source.closed).toBe(1);
    expect(target.objects.size).toBe(0);
  });

  it('writes no manifest (and no data object) when the source fails midway', async () => {
    const target = new MemoryArchiveTarget();
    const source = new FakeSource(
      function* () {
        for (let i = 0; i < 10_000; i++) yield { _id: oid(i + 1), text: 'x'.repeat(100) };
      },
      10_000,
      5_000,
    );
    await expect(archiverOn(source, target).archive()).rejects.toThrow('cursor killed');
    expect(source.closed).toBe(1);
    expect(target.objects.size).toBe(0);
  });

  it('refuses without a target, and refuses a second archive while one runs', async () => {
    const unconfigured = archiverOn(new FakeSource(() => [], 0), null);
    expect(unconfigured.configured).toBe(false);
    await expect(unconfigured.archive()).rejects.toBeInstanceOf(ArchiveNotConfiguredError);
    await expect(unconfigured.verify()).rejects.toMatchObject({ code: 'ARCHIVE_NOT_CONFIGURED' });

    const target = new MemoryArchiveTarget();
    target.stallAfterChunks = 1;
    const archiver = archiverOn(new FakeSource(() => sampleDocs(), 4), target);
    const first = archiver.archive();
    await target.stalled;
    await expect(archiver.archive()).rejects.toBeInstanceOf(ArchiveInProgressError);
    target.release();
    await expect(first).resolves.toMatchObject({ documentCount: 4 });
  });
});
