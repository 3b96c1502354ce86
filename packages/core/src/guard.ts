import type { Guard, GuardContext, SwanRequest } from './http.js';

/**
 * Runs guards in order; the first that throws denies the request (its error propagates).
 *
 * @example
 * ```ts
 * await runGuards(route.guards ?? [], req, ctx);
 * ```
 */
export async function runGuards(guards: readonly Guard[], req: SwanRequest, ctx: GuardContext): Promise<void> {
  for (const guard of guards) await guard(req, ctx);
}

/**
 * The guard context of a framework's response object, made once per response: every guard of a
 * request (a route's and the host app's own) shares it, so each sees the headers the others set
 * (several rate limits append to one `RateLimit` list). `setHeader` writes a header on the response.
 *
 * @example
 * ```ts
 * const guardContext = createGuardContext<Response>((res, name, value) => void res.set(name, value));
 * await runGuards(guards, req, guardContext(res));
 * ```
 */
export function createGuardContext<R extends object>(setHeader: (response: R, name: string, value: string) => void): (response: R) => GuardContext {
  const contexts = new WeakMap<R, GuardContext>();
  return (response) => {
    let ctx = contexts.get(response);
    if (!ctx) contexts.set(response, (ctx = { setHeader: (name, value) => setHeader(response, name, value) }));
    return ctx;
  };
}
