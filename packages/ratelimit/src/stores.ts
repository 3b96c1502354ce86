import { Redis, type RedisOptions } from 'ioredis';

/** One counting request to a store, with the window already resolved by the limiter. */
export interface Hit {
  policy: string;
  /** The pseudonymous store key (never a raw IP or phone number). */
  key: string;
  limit: number;
  /** Index of the key's current window (`floor((now + phase) / windowMs)`). */
  window: number;
  /** Epoch ms at which that window ends. */
  windowEnd: number;
  /** Violator accounting: rejections per key are counted in windows of this length. */
  alertWindowMs: number;
  /** `floor(now / alertWindowMs)`: names the violator window. */
  alertWindow: number;
  /** Rejections in one alert window from which one alert fires. */
  threshold: number;
  now: number;
}

/** A store's answer: `count` so far in the window; on rejection the key's violations in the alert window. */
export interface HitResult {
  count: number;
  violations?: number;
  /** True for exactly one rejection per key, policy and alert window: the one that reached the threshold. */
  alert?: boolean;
}

/**
 * A key's rejections in the current alert window.
 *
 * @example
 * ```ts
 * const [worst]: Violator[] = await limiter.topViolators(1); // { policy: 'aiQuery', key: 'actor:…', violations: 42 }
 * ```
 */
export interface Violator {
  policy: string;
  key: string;
  violations: number;
}

/** Where counts live. Both implementations are atomic per decision. */
export interface RateLimitStore {
  readonly kind: 'redis' | 'memory';
  hit(hit: Hit): Promise<HitResult>;
  violators(policies: readonly string[], alertWindow: number, n: number): Promise<Violator[]>;
  close(): Promise<void>;
}

function byViolations(list: Violator[], n: number): Violator[] {
  return list.sort((a, b) => b.violations - a.violations || a.key.localeCompare(b.key)).slice(0, n);
}

/**
 * Rejection bookkeeping, atomic in one script: count the rejection in the alert window's sorted set
 * and, once the threshold is reached, claim the key's alert with HSETNX so exactly one caller alerts.
 * KEYS: violator zset, alert hash. ARGV: member, alert window ms, threshold.
 */
const VIOLATION_SCRIPT = `
local v = tonumber(redis.call('ZINCRBY', KEYS[1], 1, ARGV[1]))
if redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], 2 * tonumber(ARGV[2])) end
local alert = 0
if v >= tonumber(ARGV[3]) and redis.call('HSETNX', KEYS[2], ARGV[1], '1') == 1 then
  alert = 1
  redis.call('PEXPIRE', KEYS[2], 2 * tonumber(ARGV[2]))
end
return {v, alert}
`;

/**
 * The decisions of one batch, atomic and one round trip: for each counter, count the request and,
 * on its window's first request, set its expiry in the same script (so no counter can outlive its
 * window by more than the slack, whatever fails: there is no second command that could).
 * KEYS: counters. ARGV: their expiries (epoch ms), in the same order. Returns the counts.
 */
const COUNT_SCRIPT = `
local out = {}
for i = 1, #KEYS do
  local c = redis.call('INCR', KEYS[i])
  if c == 1 then redis.call('PEXPIREAT', KEYS[i], ARGV[i]) end
  out[i] = c
end
return out
`;

/** Decisions sent in one script call at most (a larger batch is split). */
const MAX_BATCH = 256;

interface Pending {
  hit: Hit;
  resolve: (r: HitResult | Promise<HitResult>) => void;
  reject: (e: unknown) => void;
}

const COMMAND = 'swanRateLimitViolation';
const COUNT = 'swanRateLimitCount';

type ScriptClient = Redis & {
  [COMMAND](violators: string, alerts: string, member: string, alertWindowMs: number, threshold: number): Promise<[number, number]>;
  [COUNT](...numberOfKeysKeysAndArgs: (string | number)[]): Promise<number[]>;
};

/**
 * ioredis options of a client the limiter creates from a URL: fail fast instead of queueing while
 * disconnected (no offline queue, in-flight commands rejected on the first reconnect attempt), a
 * command timeout so a hung or half-open connection cannot hold requests, and quick reconnects.
 * Auto-pipelining is on for other commands (violator bookkeeping, statistics): commands of one
 * event-loop turn go out in one socket write. The decisions' script is left out of it because the
 * store already batches decisions per event-loop turn (see {@link RedisStore.hit}); passing it
 * through auto-pipelining too would only add a second deferral.
 *
 * @example
 * ```ts
 * const redis = new Redis(process.env.REDIS_URL!, redisClientOptions(50));
 * const limiter = createRateLimiter({ redis });
 * ```
 */
export function redisClientOptions(commandTimeoutMs = 50): RedisOptions {
  return {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: commandTimeoutMs,
    connectTimeout: 1000,
    retryStrategy: (times) => Math.min(times * 50, 500),
    enableAutoPipelining: true,
    autoPipeliningIgnoredCommands: [COUNT],
  };
}

/**
 * Redis store. The allowed path is one small script, `INCR` of `<prefix><policy>:<window>:<key>` (the
 * window index is in the key name, so no TTL read is needed) plus `PEXPIREAT` on the window's first
 * request, atomically in one round trip. Only rejections run the violator script (a second round trip).
 */
export class RedisStore implements RateLimitStore {
  readonly kind = 'redis';
  readonly client: ScriptClient;
  private connected: boolean;
  private readonly firstReady: Promise<void>;
  /** Decisions waiting for the end of this event-loop turn, and their script arguments. */
  private batch: Pending[] = [];
  private keys: string[] = [];
  private expiries: number[] = [];

  /** `onError` hears of failed bookkeeping (the rejection itself stands). */
  constructor(client: Redis, private readonly prefix: string, private readonly owned: boolean, private readonly onError: (e: Error) => void = () => {}) {
    // ioredis runs defined commands with EVALSHA and re-sends them with EVAL on NOSCRIPT (after a
    // Redis restart or SCRIPT FLUSH), so a dropped script is reloaded transparently.
    client.defineCommand(COMMAND, { numberOfKeys: 2, lua: VIOLATION_SCRIPT });
    client.defineCommand(COUNT, { lua: COUNT_SCRIPT });
    this.client = client as ScriptClient;
    this.connected = client.status === 'ready';
    this.firstReady = this.connected ? Promise.resolve() : new Promise((resolve) => client.once('ready', () => {
      this.connected = true;
      resolve();
    }));
  }

  /** True when commands can be sent right now (otherwise the limiter falls back without waiting). */
  get ready(): boolean {
    return this.client.status === 'ready';
  }

  /**
   * Before the first connection: waits up to `ms` for it (startup requests are not sent to the
   * fallback just because the socket is still opening). After that: answers at once.
   */
  async whenReady(ms: number): Promise<boolean> {
    if (this.ready) return true;
    if (this.connected) return false;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.firstReady, new Promise((r) => { timer = setTimeout(r, ms); })]);
    clearTimeout(timer);
    return this.ready;
  }

  private windowKey(kind: 'v' | 'a', policy: string, alertWindow: number): string {
    return `${this.prefix}${kind}:${policy}:${alertWindow}`;
  }

  /**
   * Queues the decision; every decision of one event-loop turn (concurrent requests whose bytes
   * arrived together) goes to Redis in one script call, sent on `setImmediate`. One command per
   * batch instead of one per request saves client and Redis CPU; counting stays exact (each
   * script runs atomically) and every decision still costs one round trip.
   */
  hit(h: Hit): Promise<HitResult> {
    return new Promise<HitResult>((resolve, reject) => {
      if (this.batch.length === 0) setImmediate(this.flush);
      this.batch.push({ hit: h, resolve, reject });
      this.keys.push(`${this.prefix}c:${h.policy}:${h.window}:${h.key}`);
      // A second of slack past the window end; the window index in the name already isolates windows.
      this.expiries.push(h.windowEnd + 1000);
      if (this.batch.length >= MAX_BATCH) this.flush();
    });
  }

  private readonly flush = (): void => {
    const batch = this.batch;
    if (batch.length === 0) return;
    const args: (string | number)[] = [batch.length, ...this.keys, ...this.expiries];
    this.batch = [];
    this.keys = [];
    this.expiries = [];
    this.client[COUNT](...args).then((counts) => {
      for (let i = 0; i < batch.length; i++) {
        const { hit, resolve } = batch[i]!;
        const count = counts[i]!;
        resolve(count <= hit.limit ? { count } : this.rejected(hit, count));
      }
    }, (e: unknown) => {
      for (const p of batch) p.reject(e);
    });
  };

  /** The decision is made; if only the violator bookkeeping fails, the request is still rejected. */
  private rejected(h: Hit, count: number): Promise<HitResult> {
    return this.violation(h, count).catch((e: unknown) => {
      this.onError(e instanceof Error ? e : new Error(String(e)));
      return { count };
    });
  }

  private async violation(h: Hit, count: number): Promise<HitResult> {
    const [violations, alert] = await this.client[COMMAND](
      this.windowKey('v', h.policy, h.alertWindow), this.windowKey('a', h.policy, h.alertWindow), h.key, h.alertWindowMs, h.threshold,
    );
    return { count, violations, alert: alert === 1 };
  }

  async violators(policies: readonly string[], alertWindow: number, n: number): Promise<Violator[]> {
    const pipeline = this.client.pipeline();
    for (const p of policies) pipeline.zrevrange(this.windowKey('v', p, alertWindow), 0, n - 1, 'WITHSCORES');
    const results = (await pipeline.exec()) ?? [];
    const out: Violator[] = [];
    results.forEach(([error, flat], i) => {
      if (error) throw error;
      const list = flat as string[];
      for (let j = 0; j + 1 < list.length; j += 2) out.push({ policy: policies[i]!, key: list[j]!, violations: Number(list[j + 1]) });
    });
    return byViolations(out, n);
  }

  async close(): Promise<void> {
    if (!this.owned) return;
    try {
      await this.client.quit();
    } catch {
      this.client.disconnect();
    }
  }
}

/**
 * Per-process store with the same windows as Redis: development, single instance, and the insurance
 * limiter while Redis is down. Expired windows are swept once a minute (timer unref'd).
 */
export class MemoryStore implements RateLimitStore {
  readonly kind = 'memory';
  /** `${policy}\n${key}` → the key's current window and count. */
  private readonly counters = new Map<string, { window: number; end: number; count: number }>();
  /** `${policy}\n${alertWindow}` → key → rejections. */
  private readonly rejections = new Map<string, Map<string, number>>();
  private readonly alerted = new Set<string>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly alertWindowMs: number) {
    this.sweeper = setInterval(() => this.sweep(Date.now()), 60_000);
    this.sweeper.unref();
  }

  async hit(h: Hit): Promise<HitResult> {
    const id = `${h.policy}\n${h.key}`;
    let counter = this.counters.get(id);
    if (!counter || counter.window !== h.window) this.counters.set(id, (counter = { window: h.window, end: h.windowEnd, count: 0 }));
    const count = ++counter.count;
    if (count <= h.limit) return { count };
    const bucketId = `${h.policy}\n${h.alertWindow}`;
    let bucket = this.rejections.get(bucketId);
    if (!bucket) this.rejections.set(bucketId, (bucket = new Map()));
    const violations = (bucket.get(h.key) ?? 0) + 1;
    bucket.set(h.key, violations);
    const marker = `${bucketId}\n${h.key}`;
    const alert = violations >= h.threshold && !this.alerted.has(marker);
    if (alert) this.alerted.add(marker);
    return { count, violations, alert };
  }

  /** Drops ended windows and violator windows older than the previous one. */
  private sweep(now: number): void {
    for (const [id, c] of this.counters) if (c.end <= now) this.counters.delete(id);
    const oldest = Math.floor(now / this.alertWindowMs) - 1;
    const stale = (id: string) => Number(id.split('\n')[1]) < oldest;
    for (const id of this.rejections.keys()) if (stale(id)) this.rejections.delete(id);
    for (const id of this.alerted) if (stale(id)) this.alerted.delete(id);
  }

  async violators(policies: readonly string[], alertWindow: number, n: number): Promise<Violator[]> {
    const out: Violator[] = [];
    for (const policy of policies) {
      for (const [key, violations] of this.rejections.get(`${policy}\n${alertWindow}`) ?? []) out.push({ policy, key, violations });
    }
    return byViolations(out, n);
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    this.counters.clear();
    this.rejections.clear();
    this.alerted.clear();
  }
}
