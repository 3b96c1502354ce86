import { createServer } from './app.js';
import { loadConfig } from './config.js';
import { createLogger } from './logger.js';

const logger = createLogger();

try {
  const server = await createServer(loadConfig(process.env, process.argv.slice(2)), { logger });
  let signalled = false;
  const shutdown = (signal: NodeJS.Signals) => {
    if (signalled) return;
    signalled = true;
    logger.info('signal received', { signal });
    // a second signal or a stuck connection must not keep the process alive forever
    setTimeout(() => {
      logger.error('graceful shutdown timed out');
      process.exit(1);
    }, 15_000).unref();
    server.close().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error('shutdown failed', { error });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
} catch (error) {
  logger.error('startup failed', { error });
  process.exit(1);
}
