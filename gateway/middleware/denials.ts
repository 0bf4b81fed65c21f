import type { NextFunction, Request, Response } from 'express';
import type { DenialLedger } from '../../catalog/denials';
import type { Principal } from '../../catalog/keys';

/** `/v1/datasets/:id` style label of the route a request matched, or `unmatched`. */
export function routeLabel(req: Request): string {
  const route = (req.route as { path?: string } | undefined)?.path;
  return route ? `${req.baseUrl}${route}` : 'unmatched';
}

interface Denial {
  action: string;
  target: string | null;
}

/**
 * Marks this request as denied in a way its status does not tell (a denial that answers 404, so the caller
 * learns nothing), naming what was refused.
 */
export function markDenied(res: Response, action: string, target: string | null = null): void {
  res.locals.denial = { action, target } satisfies Denial;
}

/**
 * Counts every denied request of an authenticated key in the denial ledger once it is answered: 403, 429,
 * and what handlers marked with markDenied. The ledger audits them in aggregate.
 */
export function recordDenials(ledger: DenialLedger, onDenied: (principal: Principal) => void = () => undefined) {
  return (req: Request, res: Response, next: NextFunction): void => {
    res.on('finish', () => {
      const principal = res.locals.principal as Principal | undefined;
      if (!principal) return;
      const marked = res.locals.denial as Denial | undefined;
      if (!marked && res.statusCode !== 403 && res.statusCode !== 429) return;
      const action = marked?.action ?? (res.statusCode === 429 ? String(res.locals.errorCode ?? 'rate_limited') : `${req.method} ${routeLabel(req)}`);
      ledger.record(principal, action, marked?.target ?? req.path, String(res.locals.requestId ?? ''));
      onDenied(principal);
    });
    next();
  };
}
