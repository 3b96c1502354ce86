import { adminPageRoute } from '../pages/admin.js';
import { legalPageRoute } from '../pages/legal.js';
import type { ServerModule } from './types.js';

/** The modules whose admin routes the page calls, by the service each one puts on the context. */
const PANELS: ReadonlyArray<[service: string, panel: string]> = [
  ['outbox', 'outbox stats and dead letters'],
  ['ratelimit', 'rate-limit violators'],
  ['pii', 'audit check, create client and assign trainer'],
];

/**
 * The admin page of the example server, `GET /admin` (see {@link adminPageRoute}), and `GET /legal`,
 * the terms, privacy and cancellation page the pages' footers link to: registered
 * last, it only serves the page; the data comes from the admin-only routes the other modules mount
 * (outbox, rate limits, PII and audit), called by the browser with the admin's bearer token.
 * Logs which panels will answer `NOT_FOUND` when their module is not installed.
 *
 * @example
 * ```ts
 * export const modules: ServerModule[] = [outboxModule, ratelimitModule, piiModule, …, adminModule];
 * ```
 */
export const adminModule: ServerModule = {
  name: 'admin',
  setup(ctx) {
    const missing = PANELS.filter(([service]) => !ctx.services[service]).map(([, panel]) => panel);
    if (missing.length) ctx.logger.warn(`admin page: no module serves ${missing.join('; ')}: those panels show NOT_FOUND`);
    return { routes: [adminPageRoute(), legalPageRoute()] };
  },
};
