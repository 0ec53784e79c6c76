/**
 * Archives in a local (or mounted) directory. Each object is written to a hidden temporary file in the
 * same directory, flushed to disk, then renamed over its final name (atomic on one file system), and the
 * directory itself is flushed so the rename survives a crash. A failed write removes its temporary file.
 */
import { randomBytes } from 'node:crypto';
import { constants, createWriteStream } from 'node:fs';
import { access, mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ArchiveTarget, assertObjectName } from './archive-target.port';

async function fsyncPath(p: string): Promise<void> {
  const handle = await open(p, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export class DirectoryArchiveTarget implements ArchiveTarget {
  constructor(private readonly dir: string) {
    if (!path.isAbsolute(dir)) throw new RangeError(`archive directory must be absolute, got ${dir}`);
  }

  describe(): string {
    return this.dir;
  }

  locate(name: string): string {
    assertObjectName(name);
    return path.join(this.dir, name);
  }

  nameOf(location: string): string | null {
    const name = path.isAbsolute(location) ? (path.dirname(location) === this.dir ? path.basename(location) : null) : location;
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
      await mkdir(this.dir, { recursive: true });
      if (!(await stat(this.dir)).isDirectory()) throw new Error('not a directory');
      await access(this.dir, constants.W_OK);
    } catch (err) {
      throw new Error(`archive directory ${this.dir} is not a writable directory: ${(err as Error).message}`, { cause: err });
    }
  }

  async put(name: string, data: Readable): Promise<void> {
    const final = this.locate(name);
    await mkdir(this.dir, { recursive: true });
    const temp = path.join(this.dir, `.${name}.${randomBytes(6).toString('hex')}.partial`);
    try {
      await pipeline(data, createWriteStream(temp, { flags: 'wx' }));
      await fsyncPath(temp);
      await rename(temp, final);
    } catch (err) {
      data.destroy();
      await rm(temp, { force: true });
      throw err;
    }
    await fsyncPath(this.dir);
  }

  async open(name: string): Promise<Readable | null> {
    try {
      const handle = await open(this.locate(name), 'r');
      return handle.createReadStream();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  }

  async list(): Promise<string[]> {
    try {
      const entries = await readdir(this.dir, { withFileTypes: true });
      return entries.filter((e) => e.isFile() && !e.name.startsWith('.')).map((e) => e.name);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
  }

  async close(): Promise<void> {}
}
