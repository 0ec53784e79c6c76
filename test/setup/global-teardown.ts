import { adminQuery } from '../support/databases';

/** Drops this run's template; per-file databases are dropped by their files. */
export default async function globalTeardown(): Promise<void> {
  const template = process.env.LMS_TEST_TEMPLATE_DB;
  if (template) await adminQuery(`DROP DATABASE IF EXISTS ${template} WITH (FORCE)`);
}
