import crypto from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import { authenticateKey, countKeyRequest, type Principal, pruneRequestWindows, type RequestWindow, type Role } from '../../catalog/keys';
import { type ConsoleSession, findSession } from '../../catalog/sessions';
import type { Pool } from '../../lib/db';
import { ForbiddenError, GovxError, UnauthenticatedError } from '../../lib/errors';

/**
 * Reads `Authorization: Bearer <key>` or, for Confluent clients, HTTP Basic with the department id as the
 * user name and the key as the password. The key is read from PostgreSQL on every request, so a revoked key
 * is refused from the next request on, by every gateway; the same statement counts the request against the
 * key's shared rate (`GOVX_RATE_LIMIT_KEY_REQUESTS_PER_SEC`), so the limit holds across gateway processes and
 * counts every request of the key, denied ones included.
 */
export class KeyAuthenticator {
  private pruned = 0;

  constructor(
    private readonly pool: Pool,
    private readonly opts: { requestsPerSec: number; onLimited?: (principal: Principal) => void } = { requestsPerSec: 0 },
  ) {}

  /** The key's principal (and whether it is over its rate), or null for a key that is not live. */
  async authenticate(presented: string): Promise<{ principal: Principal; overLimit: boolean } | null> {
    const limit = this.opts.requestsPerSec;
    const check = await authenticateKey(this.pool, presented, { count: limit > 0 });
    if (!check) return null;
    if (!check.window) return { principal: check.principal, overLimit: false };
    return { principal: check.principal, overLimit: this.judge(check.principal, check.window) };
  }

  /**
   * Counts a console session's request against its principal's key id (the key it signed in with, or the
   * single sign-on user's `user:<subject>`), so a session is held to the same rate as a key; true when over it.
   */
  async countSession(principal: Principal): Promise<boolean> {
    if (this.opts.requestsPerSec <= 0) return false;
    return this.judge(principal, await countKeyRequest(this.pool, principal.keyId));
  }

  private judge(principal: Principal, window: RequestWindow): boolean {
    this.pruneNowAndThen();
    // A sliding window over two fixed one-second windows: smooth at the boundary, exact enough for abuse.
    const { current, previous, elapsed } = window;
    const overLimit = previous * (1 - elapsed) + current > this.opts.requestsPerSec;
    if (overLimit) this.opts.onLimited?.(principal);
    return overLimit;
  }

  get requestsPerSec(): number {
    return this.opts.requestsPerSec;
  }

  private pruneNowAndThen(): void {
    const now = Date.now();
    if (now - this.pruned < 30_000) return;
    this.pruned = now;
    void pruneRequestWindows(this.pool).catch(() => undefined);
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

/** The console's session cookie: an opaque id, HttpOnly, SameSite=Lax, Secure when the console is reached over https. */
export const SESSION_COOKIE = 'govx_session';
/** State-changing requests of a session carry its CSRF token in this header (a cross-site form cannot set it). */
export const CSRF_HEADER = 'x-csrf-token';

export function cookiesOf(req: Request): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (req.get('cookie') ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const name = part.slice(0, eq).trim();
    if (!(name in out)) out[name] = part.slice(eq + 1).trim();
  }
  return out;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

function sameToken(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && crypto.timingSafeEqual(x, y);
}

export interface SessionLookup {
  find(id: string): Promise<ConsoleSession | null>;
}

export function sessionLookup(pool: Pool, idleMinutes: number): SessionLookup {
  return { find: (id) => findSession(pool, id, idleMinutes) };
}

export function sessionOf(res: Response): ConsoleSession | undefined {
  return res.locals.session as ConsoleSession | undefined;
}

/**
 * An API key in `Authorization`, or else the console's session cookie. A session request that changes
 * anything must also carry the session's CSRF token in `X-CSRF-Token`; both end up as the same principal, so
 * every route authorizes a console user exactly as it would their key.
 */
export function authenticate(auth: KeyAuthenticator, sessions?: SessionLookup) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const creds = credentialsOf(req);
    if (!creds) {
      const sessionId = sessions ? cookiesOf(req)[SESSION_COOKIE] : undefined;
      if (!sessions || !sessionId) {
        next(new UnauthenticatedError());
        return;
      }
      sessions.find(sessionId).then(
        async (session) => {
          if (!session) {
            next(new UnauthenticatedError('the console session has ended; sign in again', 'auth.session_expired'));
            return;
          }
          res.locals.principal = session.principal;
          // Counted before the CSRF check, as a key's denied requests are: every request of the session spends.
          if (await auth.countSession(session.principal)) {
            next(overKeyLimit(auth));
            return;
          }
          if (!SAFE_METHODS.has(req.method) && !sameToken(req.get(CSRF_HEADER) ?? '', session.csrfToken)) {
            next(new ForbiddenError('this request needs the session\'s CSRF token in X-CSRF-Token', 'auth.csrf'));
            return;
          }
          res.locals.session = session;
          next();
        },
      ).catch((err: unknown) => next(err));
      return;
    }
    auth.authenticate(creds.key).then(
      (check) => {
        // With Basic, the user name must be the key's own department: a key cannot pose as another.
        if (!check || (creds.basicUser !== undefined && creds.basicUser !== check.principal.department)) {
          next(new UnauthenticatedError('the API key is not valid', 'auth.invalid_key'));
          return;
        }
        res.locals.principal = check.principal;
        if (check.overLimit) {
          next(overKeyLimit(auth));
          return;
        }
        next();
      },
      (err: unknown) => next(err),
    );
  };
}

function overKeyLimit(auth: KeyAuthenticator): GovxError {
  return new GovxError(429, 'rate_limited', `this API key is over its limit of ${auth.requestsPerSec} requests a second; retry after 1 s`, {
    details: { limit: 'key-requests', perSecond: auth.requestsPerSec },
    headers: { 'Retry-After': '1' },
  });
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
