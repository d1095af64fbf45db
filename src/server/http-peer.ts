// Who is at the other end of a loopback connection to the web page. The mount (without --allow-other) is readable by
// its user alone; a page on 127.0.0.1 would hand the medium to every user of the machine. The kernel says which user
// owns a local TCP socket: /proc/net/tcp and tcp6 list each socket with its uid (what identd reads). Read
// asynchronously: the event loop also serves FUSE.
import { promises as fs } from 'fs';
import { isIPv4, isIPv6 } from 'net';
import { endianness } from 'os';

/** An address as /proc/net/tcp* prints it: each 32-bit word in the host's byte order, in hex. */
export function procAddress(address: string, port: number): string | undefined {
  const bytes = addressBytes(address);
  if (!bytes) return undefined;
  let hex = '';
  for (let w = 0; w < bytes.length; w += 4) {
    const word = bytes.slice(w, w + 4);
    for (const b of endianness() === 'LE' ? word.reverse() : word) hex += b.toString(16).padStart(2, '0');
  }
  return `${hex.toUpperCase()}:${port.toString(16).toUpperCase().padStart(4, '0')}`;
}

function addressBytes(address: string): number[] | undefined {
  if (isIPv4(address)) return address.split('.').map(Number);
  if (!isIPv6(address)) return undefined;
  const v4 = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(address); // ::ffff:127.0.0.1
  let text = address;
  if (v4) {
    const [a, b, c, d] = v4[2].split('.').map(Number);
    text = `${v4[1]}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  if (groups.length !== 8) return undefined;
  return groups.flatMap((g) => {
    const n = parseInt(g, 16);
    return [n >> 8, n & 0xff];
  });
}

/**
 * The uid owning the socket at `client` connected to `server` (both seen from this end: the client's row lists the
 * client's address as its local one), or undefined when no such row is found (the client already went away).
 */
export async function peerUid(client: { address: string; port: number }, server: { address: string; port: number }): Promise<number | undefined> {
  // A page listening on ::ffff:127.0.0.1 is reached by IPv4 clients, whose sockets the kernel lists in tcp as IPv4.
  const pairs = [[client.address, server.address], [unmapped(client.address), unmapped(server.address)]];
  const wanted = new Set(pairs.map(([c, s]) => `${procAddress(c, client.port)} ${procAddress(s, server.port)}`));
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    const text = await fs.readFile(table, 'latin1').catch(() => '');
    for (const line of text.split('\n')) {
      // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
      const f = line.trim().split(/\s+/);
      // A line without an inode is a socket no process holds (closed, in TIME_WAIT): its uid 0 is no root.
      if (f.length >= 10 && f[9] !== '0' && wanted.has(`${f[1]} ${f[2]}`)) return Number(f[7]);
    }
  }
  return undefined;
}

/** ::ffff:a.b.c.d as a.b.c.d; any other address as it is. */
function unmapped(address: string): string {
  return /^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(address) ? address.slice(7) : address;
}
