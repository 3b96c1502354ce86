// One Express app per variant for bench/ratelimit/run.ts: GET /api/ping behind no limit, our guard,
// or express-rate-limit with rate-limit-redis. Prints "listening <port>".
import express from 'express';
import { rateLimit } from 'express-rate-limit';
import { Redis } from 'ioredis';
import { RedisStore } from 'rate-limit-redis';
import { expressGuard } from '@swan/express';
import { createRateLimiter, rateLimitHeaders, redisClientOptions } from '@swan/ratelimit';

const variant = process.argv[2];
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = process.env.BENCH_PREFIX ?? 'bench:http:';
const LIMIT = 1_000_000_000; // every request is admitted: we measure the cost of deciding

const app = express();
if (variant === 'swan') {
  const limiter = createRateLimiter({ redis: REDIS_URL, prefix, policies: { general: { points: LIMIT } }, commandTimeoutMs: 1000 });
  await limiter.ready();
  app.use('/api', expressGuard(limiter.guard('general')));
} else if (variant === 'swan-native') {
  // Diagnostic (profile.ts only): our limiter behind a hand-written native middleware, without expressGuard.
  const limiter = createRateLimiter({ redis: REDIS_URL, prefix, policies: { general: { points: LIMIT } }, commandTimeoutMs: 1000 });
  await limiter.ready();
  app.use('/api', (req, res, next) => {
    limiter.consume('general', `ip:${req.socket.remoteAddress}`).then((d) => {
      res.set(rateLimitHeaders(d));
      next();
    }, next);
  });
} else if (variant === 'erl') {
  const client = new Redis(REDIS_URL, redisClientOptions(1000));
  await new Promise((resolve) => client.once('ready', resolve));
  app.use('/api', rateLimit({
    windowMs: 15 * 60 * 1000, limit: LIMIT, standardHeaders: 'draft-8', legacyHeaders: false,
    store: new RedisStore({ prefix, sendCommand: (command: string, ...args: string[]) => client.call(command, ...args) as Promise<any> }),
  }));
} else if (variant !== 'unlimited') {
  throw new Error(`unknown variant ${variant}`);
}
app.get('/api/ping', (_req, res) => { res.json({ success: true }); });
const server = app.listen(0, '127.0.0.1', () => {
  const address = server.address();
  console.log(`listening ${typeof address === 'object' && address ? address.port : 0}`);
});
// Exit normally on a signal (so `--cpu-prof` of profile.ts gets written).
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => process.exit(0));
