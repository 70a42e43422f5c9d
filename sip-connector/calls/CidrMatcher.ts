import { isIP } from 'node:net';

export interface Cidr {
  family: 4 | 6;
  bits: bigint;
  prefix: number;
}

/** Parses `10.0.0.0/8`, `2001:db8::/32` or a bare address (a /32 or /128); null when invalid. */
export function parseCidr(text: string): Cidr | null {
  const [address, prefixText, ...rest] = text.trim().split('/');
  if (!address || rest.length > 0) return null;
  const family = isIP(address);
  if (family !== 4 && family !== 6) return null;
  const width = family === 4 ? 32 : 128;
  if (prefixText !== undefined && !/^\d{1,3}$/.test(prefixText)) return null;
  const prefix = prefixText === undefined ? width : Number(prefixText);
  if (prefix > width) return null;
  const bits = family === 4 ? ipv4Bits(address) : ipv6Bits(address);
  if (bits === null) return null;
  return { family, bits: maskBits(bits, prefix, width), prefix };
}

function ipv4Bits(address: string): bigint {
  return address.split('.').reduce((acc, octet) => (acc << 8n) | BigInt(Number(octet)), 0n);
}

function ipv6Bits(address: string): bigint | null {
  let text = address.toLowerCase();
  // An embedded IPv4 tail (::ffff:1.2.3.4) becomes two hex groups.
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const value = ipv4Bits(v4[1]!);
    text = `${text.slice(0, -v4[1]!.length)}${(value >> 16n).toString(16)}:${(value & 0xffffn).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const headGroups = head ? head.split(':') : [];
  const tailGroups = tail ? tail.split(':') : [];
  const missing = 8 - headGroups.length - tailGroups.length;
  if (missing < 0 || (tail === undefined && missing !== 0)) return null;
  const groups = [...headGroups, ...Array<string>(missing).fill('0'), ...tailGroups];
  return groups.reduce((acc, group) => (acc << 16n) | BigInt(parseInt(group || '0', 16)), 0n);
}

function maskBits(bits: bigint, prefix: number, width: number): bigint {
  const hostBits = BigInt(width - prefix);
  return (bits >> hostBits) << hostBits;
}

/** IPv4-mapped IPv6 sources (::ffff:a.b.c.d, as dual-stack sockets report them) match IPv4 blocks. */
function normalizeSource(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return mapped ? mapped[1]! : address;
}

/** Tests source addresses against a list of CIDR blocks. */
export class CidrMatcher {
  readonly #blocks: Cidr[];

  constructor(blocks: readonly string[]) {
    this.#blocks = blocks.map((block) => {
      const parsed = parseCidr(block);
      if (!parsed) throw new TypeError(`invalid CIDR block ${block}`);
      return parsed;
    });
  }

  /** True when the address lies in one of the blocks. */
  matches(address: string): boolean {
    const source = parseCidr(normalizeSource(address));
    if (!source) return false;
    const width = source.family === 4 ? 32 : 128;
    return this.#blocks.some((block) => block.family === source.family
      && maskBits(source.bits, block.prefix, width) === block.bits);
  }
}
