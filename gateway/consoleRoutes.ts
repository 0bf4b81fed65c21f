import fs from 'node:fs';
import path from 'node:path';
import express, { Router } from 'express';
import { projectPath } from '../lib/paths';

/**
 * The web console's static build (`npm run build` writes it to console/dist; it is never committed), served
 * at /console. Its only backend is the /v1 API. Scripts come from this origin only (a strict CSP); antd's
 * CSS-in-JS needs inline styles. Hashed assets are cached for a year, the page itself never.
 */

export const consoleBuildDir = projectPath('console', 'dist');

export const CONSOLE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const NOT_BUILT = `<!doctype html><meta charset="utf-8"><title>govx console</title>
<p>The console is not built in this checkout. Run <code>npm run build</code> (npm ci does it), then reload.</p>
<p>控制台尚未构建：请运行 <code>npm run build</code> 后刷新。</p>`;

export function consoleRouter(dir = consoleBuildDir): Router {
  const router = Router();
  const security = (res: express.Response): void => {
    res.setHeader('Content-Security-Policy', CONSOLE_CSP);
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('X-Frame-Options', 'DENY');
    res.setHeader('Referrer-Policy', 'no-referrer');
  };
  router.get(/^\/console$/, (_req, res) => res.redirect(302, '/console/'));
  router.use(
    '/console/assets',
    (_req, res, next) => {
      security(res);
      next();
    },
    express.static(path.join(dir, 'assets'), { immutable: true, maxAge: '365d', index: false, fallthrough: false, etag: false }),
  );
  // Every other path under /console is a page of the single-page app: the same index.html, never cached.
  router.get(/^\/console\/.*/, (_req, res) => {
    security(res);
    res.setHeader('Cache-Control', 'no-cache');
    const index = path.join(dir, 'index.html');
    if (!fs.existsSync(index)) {
      res.status(503).type('text/html').send(NOT_BUILT);
      return;
    }
    res.type('text/html').send(fs.readFileSync(index));
  });
  return router;
}
