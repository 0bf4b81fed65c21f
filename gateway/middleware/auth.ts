import crypto from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import { authenticateKey, type Principal, type Role } from '../../catalog/keys';
import type { Pool } from '../../lib/db';
import { ForbiddenError, UnauthenticatedError } from '../../lib/errors';

/**
 * Reads `Authorization: Bearer <key>` or, for Confluent clients, HTTP Basic with the department id as the
 * user name and the key as the password. Answers are cached for a few seconds so the publish hot path does
 * not query PostgreSQL per request; revoking a key therefore takes effect within `ttlMs`.
 */
export class KeyAuthenticator {
  private readonly cache = new Map<string, { principal: Principal | null; expires: number }>();

  constructor(
    private readonly pool: Pool,
    private readonly ttlMs = 5000,
    private readonly maxEntries = 10000,
  ) {}

  async authenticate(presented: string): Promise<Principal | null> {
    const cacheKey = crypto.createHash('sha256').update(presented).digest('base64');
    const now = Date.now();
    const hit = this.cache.get(cacheKey);
    if (hit && hit.expires > now) return hit.principal;
    const principal = await authenticateKey(this.pool, presented);
    if (this.cache.size >= this.maxEntries) this.cache.clear();
    this.cache.set(cacheKey, { principal, expires: now + this.ttlMs });
    return principal;
  }

  invalidate(): void {
    this.cache.clear();
  }
}

export function credentialsOf(req: Request): { key: string; basicUser?: string } | null {
  const header = req.get('authorization');
  if (!header) return null;
  const [scheme, value] = header.split(/\s+/, 2) as [string, string | undefined];
  if (!value) return null;
  if (scheme.toLowerCase() === 'bearer') return { key: value.trim() };
  if (scheme.toLowerCase() === 'basic') {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return null;
    return { key: decoded.slice(colon + 1), basicUser: decoded.slice(0, colon) };
  }
  return null;
}

export function principalOf(res: Response): Principal {
  const p = res.locals.principal as Principal | undefined;
  if (!p) throw new UnauthenticatedError();
  return p;
}

export function authenticate(auth: KeyAuthenticator) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const creds = credentialsOf(req);
    if (!creds) {
      next(new UnauthenticatedError());
      return;
    }
    auth.authenticate(creds.key).then(
      (principal) => {
        // With Basic, the user name must be the key's own department: a key cannot pose as another.
        if (!principal || (creds.basicUser !== undefined && creds.basicUser !== principal.department)) {
          next(new UnauthenticatedError('the API key is not valid', 'auth.invalid_key'));
          return;
        }
        res.locals.principal = principal;
        next();
      },
      (err: unknown) => next(err),
    );
  };
}

export function requireRole(...roles: Role[]) {
  return (_req: Request, res: Response, next: NextFunction): void => {
    const p = principalOf(res);
    if (!roles.includes(p.role)) {
      next(new ForbiddenError(`this action needs a key with role ${roles.join(' or ')}; this key is a ${p.role}`));
      return;
    }
    next();
  };
}
