/**
 * Client addresses: who a request came from (behind a proxy you run: the right-most
 * X-Forwarded-For entry, the one your proxy added), the address as stored (IPv4 /24, IPv6 /48)
 * and the key the rate limit counts by (IPv4 address, IPv6 /64, since one host holds a /64).
 */
import { isIP } from 'node:net';

/** The address's groups: 4 decimal octets (IPv4) or 8 hex groups (IPv6); undefined when not an address. */
function groupsOf(address: string): { v4: boolean; groups: string[] } | undefined {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  const ip = mapped?.[1] ?? address.replace(/%.*$/, '');
  const family = isIP(ip);
  if (family === 4) return { v4: true, groups: ip.split('.') };
  if (family !== 6) return undefined;
  const [head, tail = ''] = ip.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = ip.includes('::')
    ? [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right]
    : left;
  return { v4: false, groups: groups.map((g) => (Number.parseInt(g, 16) || 0).toString(16)) };
}

const cache = new Map<string, string | null>();

/** IPv4 to its /24 (`203.0.113.0`), IPv6 to its /48 (`2001:db8:85a3::`); anything else → null. */
export function truncateIp(address: string | undefined | null): string | null {
  if (!address) return null;
  const hit = cache.get(address);
  if (hit !== undefined) return hit;
  const parsed = groupsOf(address);
  const out = !parsed
    ? null
    : parsed.v4
      ? `${parsed.groups.slice(0, 3).join('.')}.0`
      : `${parsed.groups.slice(0, 3).join(':')}::`;
  if (cache.size >= 10_000) cache.clear(); // bounded; refilled from the addresses seen next
  cache.set(address, out);
  return out;
}

/** What the rate limit counts by: the IPv4 address, or the IPv6 /64. */
export function rateKey(address: string): string {
  const parsed = groupsOf(address);
  if (!parsed || parsed.v4) return address;
  return `${parsed.groups.slice(0, 4).join(':')}::/64`;
}

/** The client: with a trusted proxy, the right-most X-Forwarded-For entry; else the peer. */
export function clientAddress(peer: string, forwardedFor: string | undefined, trustProxy: boolean): string {
  if (!trustProxy || !forwardedFor) return peer;
  const last = forwardedFor.split(',').at(-1)?.trim();
  return last || peer;
}
