import dns from 'node:dns';
import net from 'node:net';

/**
 * Network addresses as govx judges them before it connects anywhere on a department's behalf: every form of
 * an address (`127.1`, `2130706433`, `0x7f000001`, `[::ffff:127.0.0.1]`, …) is judged by what it resolves
 * to, in one canonical form, never by its text.
 */

const subnets = (list: Array<[string, number]>, family: 'ipv4' | 'ipv6'): net.BlockList => {
  const b = new net.BlockList();
  for (const [a, p] of list) b.addSubnet(a, p, family);
  return b;
};

/** loopback, link-local, private, shared, reserved, unspecified, multicast; and IPv6 forms that embed IPv4 */
const INTERNAL_V4 = subnets(
  [['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12], ['192.0.0.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['224.0.0.0', 4], ['240.0.0.0', 4]],
  'ipv4',
);
const INTERNAL_V6 = subnets([['::', 96], ['::1', 128], ['64:ff9b::', 96], ['2002::', 16], ['fc00::', 7], ['fe80::', 10], ['fec0::', 10], ['ff00::', 8]], 'ipv6');
/** never a target, whatever an allowance says: "this host" and group addresses */
const NEVER_V4 = subnets([['0.0.0.0', 8], ['224.0.0.0', 4], ['255.255.255.255', 32]], 'ipv4');
const NEVER_V6 = subnets([['::', 128], ['ff00::', 8]], 'ipv6');

export interface CanonicalAddress {
  address: string;
  family: 4 | 6;
}

/** An IP address in one form: IPv6 compressed and lower case, IPv4-mapped IPv6 as the IPv4 address; null if not an IP. */
export function canonicalAddress(text: string): CanonicalAddress | null {
  const bare = text.replace(/^\[|\]$/g, '');
  if (net.isIPv4(bare)) return { address: bare, family: 4 };
  if (!net.isIPv6(bare)) return null;
  const compressed = new URL(`http://[${bare}]/`).hostname.slice(1, -1);
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(compressed);
  if (mapped) {
    const hi = parseInt(mapped[1]!, 16);
    const lo = parseInt(mapped[2]!, 16);
    return { address: `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`, family: 4 };
  }
  return { address: compressed, family: 6 };
}

const familyName = (a: CanonicalAddress): 'ipv4' | 'ipv6' => (a.family === 4 ? 'ipv4' : 'ipv6');

/** Loopback, link-local, private, shared, reserved or unspecified (in any of its forms). */
export function isInternalAddress(text: string): boolean {
  const a = canonicalAddress(text);
  if (!a) return true;
  return (a.family === 4 ? INTERNAL_V4 : INTERNAL_V6).check(a.address, familyName(a));
}

/** Addresses no allowance makes a target: 0.0.0.0/8 and `::` (they reach the local host), multicast, broadcast. */
export function isNeverATarget(text: string): boolean {
  const a = canonicalAddress(text);
  if (!a) return true;
  return (a.family === 4 ? NEVER_V4 : NEVER_V6).check(a.address, familyName(a));
}

const HOSTNAME = /^(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9])?)(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9])?)*$/;

/** A host name in one form (lower case, no trailing dot), or null when it is not a plain DNS name. */
export function canonicalHostname(text: string): string | null {
  const h = text.toLowerCase().replace(/\.$/, '');
  return HOSTNAME.test(h) ? h : null;
}

/** One entry of an allowance: an address, a CIDR block, or a DNS name. */
export type HostEntry = { kind: 'cidr'; address: string; prefix: number; family: 4 | 6 } | { kind: 'name'; name: string };

/** Parses `10.1.2.3`, `10.0.0.0/8`, `2001:db8::/32`, `db.civil.example`; a reason when it is none of them. */
export function parseHostEntry(text: string): HostEntry | string {
  const [addr, prefixText, ...rest] = text.trim().split('/');
  if (rest.length) return `"${text}" is not an address, CIDR block or host name`;
  const a = canonicalAddress(addr ?? '');
  if (a) {
    // an IPv4-mapped IPv6 block (::ffff:a.b.c.d/n) is the IPv4 block of n − 96 bits
    const mapped = a.family === 4 && net.isIPv6((addr ?? '').replace(/^\[|\]$/g, ''));
    const max = mapped ? 128 : a.family === 4 ? 32 : 128;
    let prefix = prefixText === undefined ? max : /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : NaN;
    if (!(prefix >= (mapped ? 96 : 0) && prefix <= max)) return `"${text}": the prefix length must be ${mapped ? 96 : 0} to ${max}`;
    if (mapped) prefix -= 96;
    return { kind: 'cidr', address: a.address, prefix, family: a.family };
  }
  if (prefixText !== undefined) return `"${text}" is not a CIDR block`;
  // Numeric forms that resolvers read as addresses (127.1, 2130706433, 0x7f000001) are not names.
  if (/^[0-9.]+$|^0x[0-9a-f]+$/i.test(addr ?? '')) return `"${text}": write addresses in dotted form (a.b.c.d)`;
  const name = canonicalHostname(addr ?? '');
  return name ? { kind: 'name', name } : `"${text}" is not an address, CIDR block or host name`;
}

/** The entries as one matcher: CIDR blocks by address, names by the name the target was given as. */
export class HostAllowance {
  private readonly blocks = new net.BlockList();
  private readonly names = new Set<string>();

  constructor(entries: string[]) {
    for (const text of entries) {
      const e = parseHostEntry(text);
      if (typeof e === 'string') continue; // stored entries were checked when written
      if (e.kind === 'name') this.names.add(e.name);
      else this.blocks.addSubnet(e.address, e.prefix, e.family === 4 ? 'ipv4' : 'ipv6');
    }
  }

  coversAddress(address: CanonicalAddress): boolean {
    return this.blocks.check(address.address, familyName(address));
  }

  coversName(hostname: string): boolean {
    const h = canonicalHostname(hostname);
    return h !== null && this.names.has(h);
  }
}

/** Every address a host name (or address literal, in any numeric form) resolves to, canonical. */
export async function resolveAll(host: string): Promise<CanonicalAddress[]> {
  const bare = host.replace(/^\[|\]$/g, '');
  const literal = canonicalAddress(bare);
  if (literal) return [literal];
  const found = await dns.promises.lookup(bare, { all: true, verbatim: true });
  const out: CanonicalAddress[] = [];
  for (const f of found) {
    const a = canonicalAddress(f.address);
    if (a && !out.some((o) => o.address === a.address)) out.push(a);
  }
  return out;
}
