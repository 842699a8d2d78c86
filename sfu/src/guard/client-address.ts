import { isIP } from 'node:net';

/**
 * The address a connection comes from, as the per-address limits see it.
 *
 * Without trusted proxies it is the socket's peer address. With `trustedProxies` = n (the number of
 * reverse proxies in front of the server, each appending to X-Forwarded-For), it is the n-th entry
 * from the right: the address the outermost trusted proxy saw. Entries further left were written by
 * the client itself and would let anyone pick a fresh address per connection, so they are never used.
 */
export function clientAddress(remoteAddress: string | undefined, forwardedFor: string | string[] | undefined, trustedProxies: number): string {
  const remote = normalize(remoteAddress ?? '') ?? 'unknown';
  if (trustedProxies <= 0 || forwardedFor === undefined) return remote;
  const hops = (Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor)
    .split(',')
    .map((hop) => hop.trim())
    .filter(Boolean);
  if (hops.length === 0) return remote;
  // Fewer entries than trusted proxies: the leftmost is still one a trusted proxy wrote.
  return normalize(hops[Math.max(0, hops.length - trustedProxies)]!) ?? remote;
}

/**
 * The key the limits count under: an IPv4 address, or an IPv6 address's /64 network, since one
 * IPv6 host usually holds a whole /64 and could otherwise take a fresh address per connection.
 */
export function limitKey(address: string): string {
  if (isIP(address) !== 6) return address;
  const hextets = expandIPv6(address);
  return hextets ? `${hextets.slice(0, 4).map((h) => h.toString(16)).join(':')}::/64` : address;
}

/** A bare IP address (no port, brackets or zone; IPv4-mapped IPv6 as IPv4), or undefined. */
function normalize(raw: string): string | undefined {
  let address = raw.trim();
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(address);
  if (bracketed) address = bracketed[1]!;
  else if (/^[\d.]+:\d+$/.test(address)) address = address.slice(0, address.lastIndexOf(':'));
  address = address.replace(/%.*$/, '').toLowerCase();
  if (address.startsWith('::ffff:') && isIP(address.slice(7)) === 4) address = address.slice(7);
  return isIP(address) ? address : undefined;
}

function expandIPv6(address: string): number[] | undefined {
  // A trailing dotted quad (::ffff:1.2.3.4, 64:ff9b::1.2.3.4) is the last two hextets.
  const text = address.replace(/(\d+)\.(\d+)\.(\d+)\.(\d+)$/, (_, a, b, c, d) =>
    `${((+a << 8) | +b).toString(16)}:${((+c << 8) | +d).toString(16)}`,
  );
  const parse = (part: string) => (part ? part.split(':').map((h) => parseInt(h, 16)) : []);
  const [head = '', tail] = text.split('::');
  const left = parse(head);
  if (tail === undefined) return left.length === 8 ? left : undefined;
  const right = parse(tail);
  const zeros = 8 - left.length - right.length;
  return zeros < 1 ? undefined : [...left, ...Array<number>(zeros).fill(0), ...right];
}
