import { ARCHIVE_FORMAT_VERSION, EMPTY_SHA256 } from './archive-format';
import { archiveNames, buildManifest, latestManifestName, ManifestInvalidError, manifestText, parseManifest } from './archive-manifest';

const SHA_A = 'a'.repeat(64);
const SHA_B = 'b'.repeat(64);

function sample() {
  const names = archiveNames('conversations', new Date('2026-03-04T05:06:07.089Z'), '0123abcd');
  return buildManifest({
    database: 'legacy',
    collection: 'conversations',
    names,
    dataLocation: `/archive/${names.data}`,
    documentCount: 3,
    content: { sha256: SHA_A, bytes: 300 },
    archive: { sha256: SHA_B, bytes: 120 },
    firstId: { $oid: '000000000000000000000001' },
    lastId: 'string-id',
    startedAt: new Date('2026-03-04T05:06:07.089Z'),
    finishedAt: new Date('2026-03-04T05:06:09.000Z'),
  });
}

describe('archive manifest', () => {
  it('names the data object and its manifest by collection and start time', () => {
    expect(archiveNames('conversations', new Date('2026-03-04T05:06:07.089Z'), '0123abcd')).toEqual({
      data: 'conversations-20260304T050607089Z-0123abcd.ndjson.gz',
      manifest: 'conversations-20260304T050607089Z-0123abcd.manifest.json',
    });
    expect(archiveNames('odd/name $x', new Date(0), 'ffffffff').data).toBe('odd_name__x-19700101T000000000Z-ffffffff.ndjson.gz');
    expect(() => archiveNames('c', new Date(0), 'xyz')).toThrow(RangeError);
  });

  it('finds the newest manifest of a collection among other objects', () => {
    const older = archiveNames('conversations', new Date('2026-01-01T00:00:00Z'), '00000001');
    const newer = archiveNames('conversations', new Date('2026-02-01T00:00:00Z'), '00000000');
    const other = archiveNames('conversations_old', new Date('2027-01-01T00:00:00Z'), '00000000');
    const names = [newer.data, older.manifest, newer.manifest, other.manifest, 'conversations-notes.manifest.json', 'README'];
    expect(latestManifestName(names, 'conversations')).toBe(newer.manifest);
    expect(latestManifestName([older.data], 'conversations')).toBeNull();
  });

  it('records what the archive holds and round-trips through its text', () => {
    const m = sample();
    expect(m).toMatchObject({
      formatVersion: ARCHIVE_FORMAT_VERSION,
      collection: 'conversations',
      documentCount: 3,
      content: { sha256: SHA_A, bytes: 300 },
      archive: { name: 'conversations-20260304T050607089Z-0123abcd.ndjson.gz', sha256: SHA_B, bytes: 120, compression: 'gzip' },
      manifestName: 'conversations-20260304T050607089Z-0123abcd.manifest.json',
      startedAt: '2026-03-04T05:06:07.089Z',
      finishedAt: '2026-03-04T05:06:09.000Z',
    });
    expect(parseManifest(manifestText(m))).toEqual(m);
  });

  it('accepts an empty archive (count 0, no ids)', () => {
    const m = { ...sample(), documentCount: 0, firstId: null, lastId: null, content: { sha256: EMPTY_SHA256, bytes: 0 } };
    expect(parseManifest(manifestText(m))).toEqual(m);
  });

  it('refuses text that is not a manifest, naming every problem', () => {
    expect(() => parseManifest('{not json')).toThrow(ManifestInvalidError);
    expect(() => parseManifest('[]')).toThrow(/not a JSON object/);
    expect(() => parseManifest(JSON.stringify({ ...sample(), formatVersion: 2 }))).toThrow(/unsupported formatVersion 2/);
    const bad = {
      ...sample(),
      documentCount: -1,
      content: { sha256: 'xyz', bytes: 1 },
      archive: { ...sample().archive, compression: 'zstd' },
      startedAt: 'yesterday',
    };
    try {
      parseManifest(JSON.stringify(bad));
      throw new Error('expected a ManifestInvalidError');
    } catch (err) {
      expect(err).toBeInstanceOf(ManifestInvalidError);
      expect((err as ManifestInvalidError).problems).toEqual([
        'documentCount must be a non-negative integer',
        'content.sha256 must be 64 hex characters',
        'archive.compression must be "gzip"',
        'startedAt and finishedAt must be ISO-8601 times',
      ]);
    }
    expect(() => parseManifest(JSON.stringify({ ...sample(), firstId: null }))).toThrow(
      /firstId must be null exactly when documentCount is 0/,
    );
  });
});
