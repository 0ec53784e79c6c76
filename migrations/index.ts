/**
 * Every migration, in order. Listed explicitly (not globbed) so that the same list works from
 * TypeScript sources (tests, ts-node) and from the compiled `dist/`.
 */
import { CreateConversations1764000000000 } from './1764000000000-create-conversations';
import { CreateMigrationState1764000000001 } from './1764000000001-create-migration-state';
import { CreateSync1764000000002 } from './1764000000002-create-sync';

export const MIGRATIONS = [CreateConversations1764000000000, CreateMigrationState1764000000001, CreateSync1764000000002];
