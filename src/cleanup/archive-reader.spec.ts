import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { MAX_LINE_BYTES, scanArchive } from './archive-reader';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const content = Buffer.from(
  ['{"_id":{"$oid":"000000000000000000000001"},"a":1}', '{"_id":"s","b":"ü ✈️"}', '{"_id":{"$numberInt":"7"}}']
    .map((l) => `${l}\n`)
    .join(''),
);

/** The bytes as a stream of small chunks, so lines and gzip members cross chunk boundaries. */
function streamOf(bytes: Buffer, chunk = 7): Readable {
  const parts: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += chunk) parts.push(bytes.subarray(i, i + chunk));
  return Readable.from(parts);
}

describe('archive reader', () => {
  it('hashes the gzip bytes and the content, counts lines and finds the id range', async () => {
    const gz = gzipSync(content);
    expect(await scanArchive(streamOf(gz))).toEqual({
      gzipSha256: sha(gz),
      gzipBytes: gz.length,
      contentSha256: sha(content),
      contentBytes: content.length,
      lines: 3,
      firstId: { $oid: '000000000000000000000001' },
      lastId: { $numberInt: '7' },
    });
  });

  it('reads an empty archive as zero lines', async () => {
    const gz = gzipSync(Buffer.alloc(0));
    expect(await scanArchive(streamOf(gz))).toMatchObject({ lines: 0, contentBytes: 0, firstId: null, lastId: null });
    expect((await scanArchive(streamOf(gz))).unreadable).toBeUndefined();
  });

  it('calls a truncated archive unreadable, still hashing every stored byte', async () => {
    const gz = gzipSync(content);
    const cut = gz.subarray(0, gz.length - 10);
    const scan = await scanArchive(streamOf(cut));
    expect(scan.unreadable).toMatch(/corrupt or truncated/);
    expect(scan).toMatchObject({ gzipSha256: sha(cut), gzipBytes: cut.length });
    expect((await scanArchive(streamOf(Buffer.alloc(0)))).unreadable).toMatch(/corrupt or truncated/);
  });

  it('calls an archive with a flipped byte unreadable (gzip CRC or deflate error)', async () => {
    const gz = Buffer.from(gzipSync(content));
    gz[Math.floor(gz.length / 2)] ^= 0xff;
    const scan = await scanArchive(streamOf(gz, 3));
    expect(scan.unreadable).toMatch(/corrupt or truncated/);
    expect(scan.gzipBytes).toBe(gz.length);
  });

  it('reports a line that is not a document, and an unterminated last line', async () => {
    expect((await scanArchive(streamOf(gzipSync(Buffer.from('{"_id":1}\nnot json\n{"x":1}\n'))))).malformed).toBe('line 2 is not JSON');
    expect((await scanArchive(streamOf(gzipSync(Buffer.from('{"_id":1}\n[1]\n'))))).malformed).toBe('line 2 is not a document with an _id');
    const scan = await scanArchive(streamOf(gzipSync(Buffer.from('{"_id":1}\n{"_id":2}'))));
    expect(scan).toMatchObject({ lines: 1, malformed: 'line 2 is not terminated by a newline' });
  });

  it('reports a read error of the underlying stream', async () => {
    const gz = gzipSync(content);
    const failing = new Readable({
      read() {
        this.push(gz.subarray(0, 5));
        this.destroy(new Error('connection reset'));
      },
    });
    expect((await scanArchive(failing)).unreadable).toBe('reading the archive failed: connection reset');
  });

  it('caps the length of one line', () => {
    expect(MAX_LINE_BYTES).toBeGreaterThan(16 * 1024 * 1024 * 2);
  });
});
