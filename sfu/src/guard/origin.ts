/**
 * Whether a signaling connection with this `Origin` header may proceed. Browsers send Origin on
 * every WebSocket handshake, so a page on another site (cross-site WebSocket hijacking) is refused
 * unless its origin is on the allow-list. The same origin as the server's own host is always
 * allowed. No Origin at all means a client that is not a browser (a script, a test, a load tool):
 * allowed, since the header protects browsers' users, and a script can send any Origin it likes.
 *
 * `hosts` are the host names the server is reached under: the Host header, and behind trusted
 * proxies also X-Forwarded-Host. Ports compare after dropping the scheme's default port; the scheme
 * itself is ignored because a TLS-terminating proxy makes https pages talk to a plain-http server.
 */
export function originAllowed(origin: string | undefined, hosts: readonly string[], allowed: readonly string[]): boolean {
  if (origin === undefined) return true;
  let page: URL;
  try {
    page = new URL(origin);
  } catch {
    return false; // "null" (sandboxed frames, file://) and anything malformed
  }
  if (page.protocol !== 'http:' && page.protocol !== 'https:') return false;
  if (allowed.includes(page.origin)) return true;
  return hosts.some((host) => sameHost(page, host));
}

function sameHost(page: URL, host: string): boolean {
  try {
    return new URL(`${page.protocol}//${host}`).host === page.host;
  } catch {
    return false;
  }
}
