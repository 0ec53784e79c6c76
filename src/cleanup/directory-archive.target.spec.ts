import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { DirectoryArchiveTarget } from './directory-archive.target';

describe('directory archive target (local file system)', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'archive-target-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes an object whole under its name, creating the directory', async () => {
    const target = new DirectoryArchiveTarget(path.join(dir, 'nested', 'archive'));
    await target.check();
    await target.put('a.ndjson.gz', Readable.from([Buffer.from('hello '), Buffer.from('world')]));
    expect(await readFile(path.join(dir, 'nested', 'archive', 'a.ndjson.gz'), 'utf8')).toBe('hello world');
    expect(await target.list()).toEqual(['a.ndjson.gz']);
    const back: Buffer[] = [];
    for await (const chunk of (await target.open('a.ndjson.gz'))!) back.push(chunk as Buffer);
    expect(Buffer.concat(back).toString()).toBe('hello world');
    expect(await target.open('missing')).toBeNull();
  });

  it('leaves nothing under the name, and no temporary file, when the stream fails', async () => {
    const target = new DirectoryArchiveTarget(dir);
    const failing = new Readable({
      read() {
        this.push(Buffer.from('partial'));
        this.destroy(new Error('source died'));
      },
    });
    await expect(target.put('b.ndjson.gz', failing)).rejects.toThrow('source died');
    expect(await readdir(dir)).toEqual([]);
  });

  it('lists complete objects only, and maps locations to names', async () => {
    const target = new DirectoryArchiveTarget(dir);
    await writeFile(path.join(dir, '.c.ndjson.gz.0123.partial'), 'x');
    await writeFile(path.join(dir, 'c.manifest.json'), '{}');
    expect(await target.list()).toEqual(['c.manifest.json']);
    expect(target.locate('c.manifest.json')).toBe(path.join(dir, 'c.manifest.json'));
    expect(target.nameOf(path.join(dir, 'c.manifest.json'))).toBe('c.manifest.json');
    expect(target.nameOf('c.manifest.json')).toBe('c.manifest.json');
    expect(target.nameOf('/elsewhere/c.manifest.json')).toBeNull();
    expect(target.nameOf('../c.manifest.json')).toBeNull();
    expect(() => target.locate('../x')).toThrow(RangeError);
    expect(() => new DirectoryArchiveTarget('relative/dir')).toThrow(/absolute/);
  });

  it('says clearly when the directory cannot be used', async () => {
    await writeFile(path.join(dir, 'file'), 'x');
    await expect(new DirectoryArchiveTarget(path.join(dir, 'file')).check()).rejects.toThrow(/is not a writable directory/);
  });
});
