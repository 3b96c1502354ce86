import { errors as joseErrors, jwtVerify } from 'jose';
import { ROLES, SwanError, isUuid, type Actor, type ActorResolver, type Role } from '@swan/core';

function unauthenticated(message: string, cause?: unknown): SwanError {
  return new SwanError({ code: 'UNAUTHENTICATED', message, cause });
}

/**
 * The example server's actor resolver (API.md, "Auth"): `Authorization: Bearer <JWT>`, HS256
 * only, signed with `secret`, with claims `sub` (a UUID), `role` (`admin`, `trainer`, `client` or
 * `ai_service`) and `exp`. No header → `null` (routes that need an actor answer 401); any other
 * problem — another scheme, a bad signature, `alg: none` or another algorithm, an expired token, a
 * missing or malformed claim — throws `UNAUTHENTICATED`. Messages never echo the token.
 *
 * @example
 * ```ts
 * const actor = createActorResolver(config.jwtSecret);
 * mountSwan(app, routes, { actor });
 * ```
 */
export function createActorResolver(secret: string): ActorResolver {
  const key = new TextEncoder().encode(secret);
  return async (req) => {
    const header = req.headers.authorization?.trim();
    if (!header) return null;
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match) throw unauthenticated('Authorization must be "Bearer <token>"');
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(match[1]!, key, { algorithms: ['HS256'], requiredClaims: ['exp', 'sub'] }));
    } catch (error) {
      const expired = error instanceof joseErrors.JWTExpired;
      throw unauthenticated(expired ? 'The token has expired' : 'The token is invalid', error);
    }
    const { sub, role } = payload;
    if (!isUuid(sub)) throw unauthenticated('The token subject must be a UUID');
    if (typeof role !== 'string' || !(ROLES as readonly string[]).includes(role)) {
      throw unauthenticated(`The token role must be one of ${ROLES.join(', ')}`);
    }
    const actor: Actor = { id: sub, role: role as Role };
    return actor;
  };
}
