/** An in-memory ArchiveTarget for unit tests of the archiver (integration tests use the real targets). */
import { Readable } from 'node:stream';
import { ArchiveTarget, assertObjectName } from '../archive-target.port';

export class MemoryArchiveTarget implements ArchiveTarget {
  readonly objects = new Map<string, Buffer>();
  /** When set, put reads at most this many chunks of a data object and then waits for `release`. */
  stallAfterChunks?: number;
  private releaseStall?: (err?: Error) => void;
  private markStalled!: () => void;
  /** Resolves when put has stalled (see stallAfterChunks). */
  readonly stalled = new Promise<void>((resolve) => (this.markStalled = resolve));

  describe(): string {
    return 'memory:/';
  }

  locate(name: string): string {
    assertObjectName(name);
    return `memory:/${name}`;
  }

  nameOf(location: string): string | null {
    const name = location.startsWith('memory:/') ? location.slice('memory:/'.length) : location;
    try {
      assertObjectName(name);
      return name;
    } catch {
      return null;
    }
  }

  async check(): Promise<void> {}

  async put(name: string, data: Readable): Promise<void> {
    assertObjectName(name);
    const chunks: Buffer[] = [];
    try {
      for await (const chunk of data as AsyncIterable<Buffer>) {
        chunks.push(chunk);
        if (this.stallAfterChunks !== undefined && chunks.length >= this.stallAfterChunks) {
          this.markStalled();
          await new Promise<void>((resolve, reject) => {
            this.releaseStall = (err) => (err ? reject(err) : resolve());
          });
          this.stallAfterChunks = undefined;
        }
      }
    } catch (err) {
      data.destroy();
      throw err;
    }
    this.objects.set(name, Buffer.concat(chunks));
  }

  /** Ends a stall: with an error, the put fails as a broken target would. */
  release(err?: Error): void {
    this.releaseStall?.(err);
  }

  async open(name: string): Promise<Readable | null> {
    const data = this.objects.get(name);
    return data === undefined ? null : Readable.from([data]);
  }

  async list(): Promise<string[]> {
    return [...this.objects.keys()];
  }

  async close(): Promise<void> {}
}
