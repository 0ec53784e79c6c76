import { checkArchive, checkManifestCopy, checkSource, checkStore, StoreScan } from './archive-check';
import { archiveNames, buildManifest } from './archive-manifest';
import type { ArchiveScan } from './archive-reader';

const SHA_C = 'c'.repeat(64);
const SHA_G = 'd'.repeat(64);
const first = { $oid: '000000000000000000000001' };
const last = { $oid: '000000000000000000000009' };
const names = archiveNames('conversations', new Date('2026-01-01T00:00:00Z'), '00000000');
const manifest = buildManifest({
  database: 'legacy',
  collection: 'conversations',
  names,
  dataLocation: `/a/${names.data}`,
  documentCount: 9,
  content: { sha256: SHA_C, bytes: 900 },
  archive: { sha256: SHA_G, bytes: 200 },
  firstId: first,
  lastId: last,
  startedAt: new Date('2026-01-01T00:00:00Z'),
  finishedAt: new Date('2026-01-01T00:00:01Z'),
});
const goodScan: ArchiveScan = {
  gzipSha256: SHA_G,
  gzipBytes: 200,
  contentSha256: SHA_C,
  contentBytes: 900,
  lines: 9,
  firstId: first,
  lastId: last,
};
const goodStore: StoreScan = { count: 9, documents: 9, contentSha256: SHA_C, contentBytes: 900, firstId: first, lastId: last };
const codes = (ps: Array<{ code: string }>) => ps.map((p) => p.code);

describe('archive check', () => {
  it('finds nothing wrong with a faithful archive and an unchanged store', () => {
    expect(checkArchive(manifest, goodScan)).toEqual([]);
    expect(checkStore(manifest, goodStore)).toEqual([]);
    expect(checkSource(manifest, { database: 'legacy', collection: 'conversations' })).toEqual([]);
    expect(checkManifestCopy(manifest, JSON.parse(JSON.stringify(manifest)))).toEqual([]);
  });

  it('names a missing archive', () => {
    expect(codes(checkArchive(manifest, null))).toEqual(['ARCHIVE_MISSING']);
  });

  it('names changed gzip bytes and content, with expected and actual', () => {
    const ps = checkArchive(manifest, { ...goodScan, gzipSha256: 'e'.repeat(64), contentSha256: 'f'.repeat(64) });
    expect(codes(ps)).toEqual(['GZIP_CHECKSUM_DIFFERS', 'CONTENT_CHECKSUM_DIFFERS']);
    expect(ps[0]).toMatchObject({ expected: { sha256: SHA_G, bytes: 200 }, actual: { sha256: 'e'.repeat(64), bytes: 200 } });
    // Recompressing the same content differently is still a different stored object.
    expect(codes(checkArchive(manifest, { ...goodScan, gzipBytes: 201 }))).toEqual(['GZIP_CHECKSUM_DIFFERS']);
  });

  it('names an unreadable archive without piling partial-content problems on it', () => {
    const ps = checkArchive(manifest, {
      ...goodScan,
      gzipSha256: 'e'.repeat(64),
      gzipBytes: 100,
      contentBytes: 10,
      lines: 1,
      unreadable: 'gzip data is corrupt or truncated: unexpected end of file',
    });
    expect(codes(ps)).toEqual(['GZIP_CHECKSUM_DIFFERS', 'ARCHIVE_UNREADABLE']);
    expect(ps[1].message).toMatch(/unexpected end of file/);
  });

  it('names a count, id range or line format that differs', () => {
    expect(
      codes(checkArchive(manifest, { ...goodScan, lines: 8, lastId: { $oid: '000000000000000000000008' }, contentSha256: 'f'.repeat(64) })),
    ).toEqual(['CONTENT_CHECKSUM_DIFFERS', 'COUNT_DIFFERS', 'ID_RANGE_DIFFERS']);
    expect(codes(checkArchive(manifest, { ...goodScan, malformed: 'line 3 is not JSON' }))).toEqual(['ARCHIVE_MALFORMED']);
  });

  it('names a store that changed since the archive', () => {
    const ps = checkStore(manifest, { ...goodStore, count: 10, documents: 10, contentSha256: 'f'.repeat(64), contentBytes: 1000 });
    expect(codes(ps)).toEqual(['STORE_COUNT_DIFFERS', 'STORE_CHECKSUM_DIFFERS']);
    expect(ps[0]).toMatchObject({ expected: 9, actual: 10 });
    expect(codes(checkStore(manifest, { ...goodStore, contentSha256: 'f'.repeat(64) }))).toEqual(['STORE_CHECKSUM_DIFFERS']);
  });

  it('names a manifest of another collection, and a stored manifest that differs from the kept one', () => {
    expect(codes(checkSource(manifest, { database: 'legacy', collection: 'other' }))).toEqual(['COLLECTION_DIFFERS']);
    const ps = checkManifestCopy(manifest, { ...manifest, documentCount: 10, content: { ...manifest.content, bytes: 1 } });
    expect(ps).toEqual([expect.objectContaining({ code: 'MANIFEST_DIFFERS', actual: ['documentCount', 'content'] })]);
  });
});
