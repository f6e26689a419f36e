import { Router, type Response } from 'express';
import { loadConsoleAssets, type ConsoleAssets } from './bundle.ts';

/**
 * `/console`: the page, its script and its style sheet. They hold no data
 * and need no token; the page asks for the admin token and sends it with
 * every call to the same `/v1/…` routes scripts use. A wrong token gets 401
 * there, and the page shows its login form again.
 */
/**
 * Stricter than helmet's default for the rest of the app (same origin only,
 * no inline style, no forms, no framing), and without its
 * `upgrade-insecure-requests`: a console opened over plain HTTP on a
 * private address (`--host 0.0.0.0`, no TLS proxy) would otherwise have its
 * own script and API calls rewritten to https:// and fail.
 */
export const CONSOLE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

export function consoleRoutes(load: () => Promise<ConsoleAssets> = loadConsoleAssets): Router {
  let assets: Promise<ConsoleAssets> | undefined;
  const get = (): Promise<ConsoleAssets> => {
    // A failed build is tried again on the next request rather than cached.
    assets ??= load().catch((error: unknown) => {
      assets = undefined;
      throw error;
    });
    return assets;
  };
  const send = (res: Response, type: string, body: string): void => {
    res.set({ 'Cache-Control': 'no-cache', 'Content-Security-Policy': CONSOLE_CSP }).type(type).send(body);
  };
  const router = Router({ strict: true });
  router.get('/', async (_req, res) => send(res, 'html', (await get()).html));
  router.get('/app.js', async (_req, res) => send(res, 'text/javascript', (await get()).script));
  router.get('/app.css', async (_req, res) => send(res, 'text/css', (await get()).style));
  return router;
}
