/** The two stores of the migration: the legacy MongoDB and the new PostgreSQL. */
export type StoreName = 'legacy' | 'new';
