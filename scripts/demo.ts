/**
 * The demo so far: a generated legacy collection in the shape the legacy application left it (every
 * variation of SPEC section 1), the API started in dual-write mode (phase `shadow`), and the API
 * answering: reads from legacy, a write that lands in both stores, compared in canonical form.
 * Later capabilities (backfill, verification, phases, Route 53) extend this into the full migration.
 */
import 'reflect-metadata';
import fc from 'fast-check';
import { MongoClient, ObjectId } from 'mongodb';
import { createApiApp } from '../src/bootstrap';
import { loadConfig } from '../src/config/app-config';
import { environmentWithEnvFile } from '../src/config/env-file';
import { canonicalJson } from '../src/conversations/domain/canonical';
import { fromLegacy } from '../src/conversations/domain/legacy-transform';
import { hasNestedArray } from '../src/conversations/domain/testing/ferretdb-limits';
import { arbWildLegacyCase } from '../src/conversations/domain/testing/legacy-arbitraries';
import { createDataSource } from '../src/stores/postgres/data-source';
import { PostgresConversationStore } from '../src/stores/postgres/postgres-conversation.store';

const SAMPLE_SIZE = Number(process.env.DEMO_CONVERSATIONS ?? 500);
const TOKEN = 'demo-operator-token-0001';

function step(message: string): void {
  console.log(`\n== ${message}`);
}

async function main(): Promise<void> {
  const env = environmentWithEnvFile();
  const demoDb = 'legacy_demo';
  const legacyUrl = env.LEGACY_MONGO_URL!.replace(/\/[^/?]*(\?|$)/, `/${demoDb}$1`);
  const config = loadConfig({ ...env, LEGACY_MONGO_URL: legacyUrl, OPERATOR_API_TOKENS: `demo:${TOKEN}`, LOG_LEVEL: 'warn', MODE_CACHE_TTL_MS: '0' });

  step('PostgreSQL: applying migrations');
  const ds = createDataSource({ url: config.database.url, poolSize: 4 });
  await ds.initialize();
  const applied = await ds.runMigrations({ transaction: 'each' });
  console.log(`applied ${applied.length} migration(s)`);
  await ds.query('TRUNCATE conversations CASCADE');
  await ds.query(`UPDATE migration_state SET phase = 'shadow', step = 0, revision = revision + 1`);

  step(`legacy store: seeding ${SAMPLE_SIZE} conversations in every legacy variation`);
  const mongo = await MongoClient.connect(legacyUrl);
  const collection = mongo.db(demoDb).collection('conversations');
  await collection.deleteMany({});
  const samples = fc.sample(arbWildLegacyCase().filter((s) => !hasNestedArray(s.document)), { numRuns: SAMPLE_SIZE, seed: 42 });
  const docs = samples.map((s, i) => {
    const id = new ObjectId(i.toString(16).padStart(24, '0'));
    return { ...s.document, _id: id };
  });
  const seen = new Set<string>();
  const unique = docs.filter((d) => !seen.has(String(d._id)) && seen.add(String(d._id)));
  await collection.insertMany(unique as never[]);
  console.log(`seeded ${await collection.countDocuments()} documents`);

  step('API: starting in phase `shadow` (legacy is the source of truth, writes go to both stores)');
  const app = await createApiApp(config);
  await app.listen(0, '127.0.0.1');
  const base = `http://127.0.0.1:${app.getHttpServer().address().port}`;
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${TOKEN}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    return { status: res.status, etag: res.headers.get("etag"), body: (res.status === 204 ? null : await res.json()) as any };
  };

  const first = fromLegacy(unique.find((d) => d.deleted !== true)!);
  const read = await call('GET', `/conversations/${first.id}`);
  console.log(`GET /conversations/${first.id} -> ${read.status}, ETag ${read.etag}, ${read.body.messages?.length ?? 0} message(s), user ${read.body.userId}`);

  const created = await call('POST', '/conversations', { userId: 'demo-user', title: 'Hello from the demo', messages: [{ role: 'user', content: 'Is my data safe?' }] });
  console.log(`POST /conversations -> ${created.status}, id ${created.body.id}, version ${created.body.version}`);
  const appended = await call('POST', `/conversations/${created.body.id}/messages`, { role: 'assistant', content: 'Both stores have it.' });
  console.log(`POST /conversations/${created.body.id}/messages -> ${appended.status}, version ${appended.body.version}`);

  step('both stores, compared in canonical form');
  const inLegacy = fromLegacy((await collection.findOne({ _id: new ObjectId(created.body.id) }))!);
  const inNew = await new PostgresConversationStore(ds).get(created.body.id);
  const same = inNew !== null && canonicalJson(inLegacy) === canonicalJson(inNew);
  console.log(`legacy v${inLegacy.version}, new v${inNew?.version}: ${same ? 'identical' : 'DIFFERENT'}`);
  const ready = await fetch(`${base}/health/ready`);
  console.log(`GET /health/ready -> ${ready.status} ${JSON.stringify(await ready.json())}`);

  await app.close();
  await mongo.close();
  await ds.destroy();
  if (!same) process.exit(1);
  console.log('\nDemo finished. `npm run services:down` stops the local services.');
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
