import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/** How many socket descriptors this process holds, bound or not (a socket whose bind failed, left open, counts). */
export function ownSocketDescriptors(): number {
  let count = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`).startsWith('socket:')) count += 1;
    } catch {
      // The descriptor was closed while listing.
    }
  }
  return count;
}

/**
 * Local addresses (`ip:port`) of the UDP sockets this process holds, read from /proc (Linux). Worker
 * threads share the process's descriptors, so sockets of mixer threads count too; child processes
 * (the mediasoup worker, peers) do not.
 */
export function ownUdpSockets(): string[] {
  const inodes = new Set<string>();
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const match = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`));
      if (match) inodes.add(match[1]!);
    } catch {
      // The descriptor was closed while listing.
    }
  }
  const found: string[] = [];
  for (const columns of procNetRows(['/proc/self/net/udp', '/proc/self/net/udp6'], 10)) {
    if (!inodes.has(columns[9]!)) continue;
    const [hexIp, hexPort] = columns[1]!.split(':') as [string, string];
    found.push(`${hexIp.length === 8 ? ipv4(hexIp) : hexIp}:${parseInt(hexPort, 16)}`);
  }
  return found.sort();
}

/**
 * Established TCP connections with local port `port` in this network namespace (read from /proc, Linux):
 * for the server's SIP TCP port, the connections phones hold to it.
 */
export function establishedTcpOn(port: number): number {
  let count = 0;
  for (const columns of procNetRows(['/proc/self/net/tcp', '/proc/self/net/tcp6'], 4)) {
    const localPort = parseInt(columns[1]!.split(':')[1] ?? '', 16);
    // State 01 is ESTABLISHED.
    if (localPort === port && columns[3] === '01') count++;
  }
  return count;
}

/** The columns of every socket row (at least `minColumns` of them) in the /proc/net tables that can be read. */
function procNetRows(tables: string[], minColumns: number): string[][] {
  const rows: string[][] = [];
  for (const table of tables) {
    let text: string;
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const columns = line.trim().split(/\s+/);
      if (columns.length >= minColumns) rows.push(columns);
    }
  }
  return rows;
}

/** /proc prints an IPv4 address as one little-endian hex word. */
function ipv4(hex: string): string {
  const value = parseInt(hex, 16);
  return [value & 0xff, (value >>> 8) & 0xff, (value >>> 16) & 0xff, (value >>> 24) & 0xff].join('.');
}
