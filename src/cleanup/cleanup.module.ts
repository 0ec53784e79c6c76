/**
 * The cleanup phase's archive of the legacy collection. Exports LegacyArchiver; the collection is the
 * one the stores use (StoresModule's LEGACY_COLLECTION, on its LEGACY_DB connection).
 *
 * `forRoot()` takes the archive section (ARCHIVE_CONFIG, read with the rest of the
 * settings at boot: a badly configured target stops the process with a ConfigError; no target at all is
 * allowed, and the archiver then refuses with ARCHIVE_NOT_CONFIGURED). Tests and scripts may pass
 * `{ archive }` to choose the target.
 */
import { DynamicModule, Inject, Module, OnApplicationShutdown } from '@nestjs/common';
import type { Collection, Db } from 'mongodb';
import { LEGACY_COLLECTION, LEGACY_DB } from '../stores/stores.module';
import { ARCHIVE_CONFIG, ArchiveConfig, ArchiveTargetConfig } from './archive.config';
import type { ArchiveTarget } from './archive-target.port';
import { DirectoryArchiveTarget } from './directory-archive.target';
import { LegacyArchiver } from './legacy-archiver';
import { MongoArchiveSource } from './mongo-archive.source';
import { createS3Client, S3ArchiveTarget } from './s3-archive.target';

const ARCHIVER_HANDLE = Symbol('ARCHIVER_HANDLE');

export function createArchiveTarget(config: ArchiveTargetConfig): ArchiveTarget {
  return config.kind === 'directory' ? new DirectoryArchiveTarget(config.dir) : new S3ArchiveTarget(createS3Client(config), config);
}

/** The archiver on a legacy database, with the given settings (null: no target configured). */
export function createLegacyArchiver(
  db: Db,
  collection: string,
  archive: ArchiveConfig | null,
): { archiver: LegacyArchiver; target: ArchiveTarget | null } {
  const target = archive ? createArchiveTarget(archive.target) : null;
  const archiver = new LegacyArchiver(new MongoArchiveSource(db, collection, archive?.batchSize), target, {
    gzipLevel: archive?.gzipLevel ?? 6,
    progressLogIntervalMs: archive?.progressLogIntervalMs ?? 15_000,
  });
  return { archiver, target };
}

interface ArchiverHandle {
  archiver: LegacyArchiver;
  target: ArchiveTarget | null;
}

@Module({})
export class CleanupModule implements OnApplicationShutdown {
  static forRoot(options: { archive?: ArchiveConfig | null } = {}): DynamicModule {
    return {
      module: CleanupModule,
      providers: [
        {
          provide: ARCHIVER_HANDLE,
          inject: [LEGACY_DB, LEGACY_COLLECTION, ARCHIVE_CONFIG],
          useFactory: (db: Db, collection: Collection, configured: ArchiveConfig | null): ArchiverHandle => {
            const archive = options.archive !== undefined ? options.archive : configured;
            return createLegacyArchiver(db, collection.collectionName, archive);
          },
        },
        { provide: LegacyArchiver, inject: [ARCHIVER_HANDLE], useFactory: (h: ArchiverHandle) => h.archiver },
      ],
      exports: [LegacyArchiver],
    };
  }

  constructor(@Inject(ARCHIVER_HANDLE) private readonly handle: ArchiverHandle) {}

  async onApplicationShutdown(): Promise<void> {
    await this.handle.target?.close();
  }
}
