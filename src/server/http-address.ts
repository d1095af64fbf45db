// --http's address (kept import-free: the CLI parses it before it loads the server).

/** "HOST:PORT", "PORT" or "[v6]:PORT"; the host defaults to loopback. */
export function parseHttpAddress(text: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:]*)):(\d+)$/.exec(text) ?? (/^(\d+)$/.test(text) ? [text, undefined, '127.0.0.1', text] : null);
  const port = m ? Number(m[3]) : NaN;
  if (!m || !Number.isInteger(port) || port < 0 || port > 65535) throw new RangeError(`--http wants HOST:PORT (e.g. 127.0.0.1:8080), not ${JSON.stringify(text)}`);
  return { host: m[1] ?? (m[2] || '127.0.0.1'), port };
}

/** A loopback address or the name localhost, exactly: '127.0.0.1.nip.io' is a DNS name that may point anywhere. */
export function isLoopback(host: string): boolean {
  // ::ffff:127.0.0.1 is also written ::ffff:7f00:1 (browsers, curl and Node put it so in a Host header).
  return host === 'localhost' || host === '::1' || /^127(\.\d{1,3}){3}$/.test(host) || /^::ffff:127(\.\d{1,3}){3}$/i.test(host) || /^::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}$/i.test(host);
}
