import { createHmac } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { isUuid, type SwanRequest } from '@swan/core';

/**
 * Derives the rate-limit key of a request, e.g. `actor:<uuid>`, `ip:<address>`, `phone:<E.164>`.
 *
 * @example
 * ```ts
 * const byApiKey: KeyFunction = (req) => `apikey:${req.headers['x-api-key'] ?? req.ip}`;
 * ```
 */
export type KeyFunction = (req: SwanRequest) => string;

/**
 * The default key: the actor's id when authenticated, else the client IP as the framework resolved
 * it (`req.ip`). Behind a proxy, configure the framework's trusted-proxy setting (Express
 * `app.set('trust proxy', …)`, Fastify `trustProxy`) or every client shares the proxy's address.
 *
 * @example
 * ```ts
 * limiter.guard('aiQuery', { key: clientKey }); // same as the default
 * ```
 */
export const clientKey: KeyFunction = (req) => (req.actor ? `actor:${req.actor.id}` : `ip:${req.ip}`);

/**
 * Key of Twilio's SMS webhook: the sender's phone number (the `From` form field), so one phone
 * cannot flood check-ins whatever IP Twilio calls from. Falls back to {@link clientKey} without `From`.
 *
 * @example
 * ```ts
 * const route = { method: 'POST', path: '/webhooks/twilio/sms', body: 'form',
 *   guards: [limiter.guard('twilioWebhook', { key: twilioSenderKey })], … };
 * ```
 */
export const twilioSenderKey: KeyFunction = (req) => {
  const from = (req.body as Record<string, unknown> | undefined)?.From;
  return typeof from === 'string' && from.trim() !== '' ? `phone:${from.trim()}` : clientKey(req);
};

/** Keys whose pseudonym is kept (least recently used ones are evicted one at a time). */
const CACHE_LIMIT = 10_000;

/** A key as stored: its pseudonym, and the phase in [0, 1) that offsets its windows. */
export interface StoreKey {
  id: string;
  phase: number;
}

/** FNV-1a (32 bit) of a string, as a fraction of 2^32. */
function phaseOf(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) / 2 ** 32;
}

/**
 * Turns a key into what is stored in Redis, counted as a violator and put in alerts: actor keys
 * (`actor:<uuid>`) stay as they are; anything else (IPs, phone numbers — personal data) becomes
 * `<kind>:<HMAC-SHA256(secret, key), 128 bits base64url>`. With a deployment secret the pseudonym
 * cannot be reversed by enumerating IPv4 addresses or phone numbers. Each key also gets a stable
 * phase, so windows of different keys do not all reset on the same second. Results are kept in an
 * LRU cache of {@link CACHE_LIMIT} keys, so a flood of new keys evicts the oldest entries one by one
 * instead of dropping every active key's pseudonym at once.
 */
export class Pseudonymizer {
  private readonly cache = new LRUCache<string, StoreKey>({ max: CACHE_LIMIT });

  constructor(private readonly secret: string | Buffer) {}

  apply(key: string): StoreKey {
    const cached = this.cache.get(key);
    if (cached !== undefined) return cached;
    const colon = key.indexOf(':');
    const kind = colon > 0 && colon <= 16 ? key.slice(0, colon) : 'key';
    const value = colon > 0 ? key.slice(colon + 1) : key;
    const id = kind === 'actor' && isUuid(value)
      ? key
      : `${kind.replace(/[^A-Za-z0-9_-]/g, '_')}:${createHmac('sha256', this.secret).update(key).digest('base64url').slice(0, 22)}`;
    const out = { id, phase: phaseOf(id) };
    this.cache.set(key, out);
    return out;
  }
}
