/**
 * Every migration, in order. Listed explicitly (not globbed) so that the same list works from
 * TypeScript sources (tests, ts-node) and from the compiled `dist/`.
 */
import { CreateConversations1764000000000 } from './1764000000000-create-conversations';
import { CreateMigrationState1764000000001 } from './1764000000001-create-migration-state';
import { CreateSync1764000000002 } from './1764000000002-create-sync';
import { SyncProgress1764000000003 } from './1764000000003-sync-progress';
import { CreateShadow1764000000004 } from './1764000000004-create-shadow';
import { VerificationProgress1764000000007 } from './1764000000007-verification-progress';
import { CreatePhaseMachine1764000000010 } from './1764000000010-create-phase-machine';
import { TrafficIntents1764000000011 } from './1764000000011-traffic-intents';
import { CleanupArchives1764000000012 } from './1764000000012-cleanup-archives';
import { CatchupApplied1764000000013 } from './1764000000013-catchup-applied';
import { ArchiveHeartbeat1764000000014 } from './1764000000014-archive-heartbeat';
import { WriteFence1764000000015 } from './1764000000015-write-fence';
import { RateLimitOverrides1764000000016 } from './1764000000016-rate-limit-overrides';
import { ShadowLagKind1764000000017 } from './1764000000017-shadow-lag-kind';
import { OneActiveArchive1764000000018 } from './1764000000018-one-active-archive';
import { VerificationSegments1764000000019 } from './1764000000019-verification-segments';

export const MIGRATIONS = [
  CreateConversations1764000000000,
  CreateMigrationState1764000000001,
  CreateSync1764000000002,
  SyncProgress1764000000003,
  CreateShadow1764000000004,
  VerificationProgress1764000000007,
  CreatePhaseMachine1764000000010,
  TrafficIntents1764000000011,
  CleanupArchives1764000000012,
  CatchupApplied1764000000013,
  ArchiveHeartbeat1764000000014,
  WriteFence1764000000015,
  RateLimitOverrides1764000000016,
  ShadowLagKind1764000000017,
  OneActiveArchive1764000000018,
  VerificationSegments1764000000019,
];
