import 'reflect-metadata';
import { createApiApp, configOrExit } from './bootstrap';

async function main(): Promise<void> {
  const config = configOrExit();
  const app = await createApiApp(config);
  await app.listen(config.app.port, '0.0.0.0');
}

main().catch((err) => {
  process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), level: 'error', msg: 'API failed to start', err: String(err?.stack ?? err) })}\n`);
  process.exit(1);
});
