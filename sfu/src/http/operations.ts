import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';

/** Answers a request it knows (true), or leaves it to the next handler (false). */
export type RequestHandler = (req: IncomingMessage, res: ServerResponse) => Promise<boolean>;

function pathOf(req: IncomingMessage): string {
  try {
    return new URL(req.url ?? '/', 'http://x').pathname;
  } catch {
    return '';
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers });
  res.end(JSON.stringify(body));
}

async function sendMetrics(res: ServerResponse, metrics: Registry): Promise<void> {
  const text = await metrics.metrics();
  res.writeHead(200, { 'content-type': metrics.contentType, 'cache-control': 'no-store' });
  res.end(text);
}

/** The token of an `Authorization: Bearer <token>` header, if it has one. */
export function bearerToken(authorization: string | undefined): string | undefined {
  return /^Bearer +(\S+)\s*$/i.exec(authorization ?? '')?.[1];
}

/** `Authorization: Bearer <token>`, compared in constant time (digests, so the length leaks nothing either). */
export function bearerMatches(authorization: string | undefined, token: string): boolean {
  const given = bearerToken(authorization);
  if (given === undefined) return false;
  const digest = (text: string) => createHash('sha256').update(text).digest();
  return timingSafeEqual(digest(given), digest(token));
}

/**
 * The operations endpoints on the public port. /healthz says only that the server is up (load
 * balancers need no more, and room counts are nobody else's business). /metrics exists here only
 * with a token configured, and then only for requests that carry it.
 */
export function publicOperations(metrics: Registry, metricsToken: string | undefined): RequestHandler {
  return async (req, res) => {
    const path = pathOf(req);
    if (path === '/healthz') {
      sendJson(res, 200, { status: 'ok' });
      return true;
    }
    if (path !== '/metrics') return false;
    if (!metricsToken) {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
      res.end('not found\n');
    } else if (!bearerMatches(req.headers.authorization, metricsToken)) {
      sendJson(res, 401, { error: 'a bearer token is required' }, { 'www-authenticate': 'Bearer' });
    } else {
      await sendMetrics(res, metrics);
    }
    return true;
  };
}

/** The admin listener's endpoints: /metrics, and /healthz with rooms and per-worker loads. */
export function adminOperations(metrics: Registry, health: () => unknown): RequestHandler {
  return async (req, res) => {
    const path = pathOf(req);
    if (path === '/healthz') {
      sendJson(res, 200, health());
      return true;
    }
    if (path === '/metrics') {
      await sendMetrics(res, metrics);
      return true;
    }
    return false;
  };
}
