import crypto from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';

const SAFE_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Every request carries an id: the caller's X-Request-Id when it is safe to echo and log, else a new one. */
export function requestId(req: Request, res: Response, next: NextFunction): void {
  const offered = req.get('x-request-id');
  const id = offered && SAFE_ID.test(offered) ? offered : crypto.randomUUID();
  res.locals.requestId = id;
  res.setHeader('X-Request-Id', id);
  next();
}
