import 'reflect-metadata';
import { createApiApp, configOrExit } from './bootstrap';
import { createRootLogger } from './common/logging/root-logger';

async function main(): Promise<void> {
  const config = configOrExit();
  const app = await createApiApp(config);
  await app.listen(config.app.port, '0.0.0.0');
}

main().catch((err) => {
  createRootLogger({ level: 'error', stream: 'stderr' }).error({ err }, 'API failed to start');
  process.exit(1);
});
