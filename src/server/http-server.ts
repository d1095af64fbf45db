// The read-only web page of a mount (`blkfs mount --http 127.0.0.1:8080`): node:http, no framework. GET/HEAD of
// a fixed set of paths: the page, its status and map, server-sent events when the state changes, and the
// downloads http-files.ts allows. Everything else is 404. It reads the views in-process (never the FUSE mount).
import * as http from 'http';
import { AddressInfo, isIP, Socket } from 'net';
import * as os from 'os';
import { UserError } from '../errors';
import { DirectoryView, ViewErrno } from '../views/view';
import { downloadable, listRescued, pathSegments, streamView } from './http-files';
import { isLoopback } from './http-address';
import { PAGE_CSP, PAGE_HTML } from './http-page';
import { errnoNameOf } from '../fuse/errno';
import { TransientReadError } from '../source/block-source';
import { peerUid } from './http-peer';

export interface HttpDeps {
  root: DirectoryView;
  /** The same JSON as /status. */
  statusText(): string;
  /** Cheap fingerprint of what the page shows; events go out when it changes. */
  stateKey(): string;
  mapPng(): Buffer;
  mapSvg(): string;
  badAreas(limit: number): { pos: number; size: number }[];
  log: { info(m: string): void; warn(m: string): void; error(m: string, e?: unknown): void };
}

/**
 * Connections served at once: a few tabs (each with its events stream) and downloads need far fewer. Beyond it a
 * new connection is closed at once, so a flood cannot take the descriptors the mount needs (its control socket,
 * NBD reconnects, TSK); unfinished request heads are dropped after HEADERS_TIMEOUT_MS (a slow client holds no slot).
 */
const MAX_CONNECTIONS = 128;
const HEADERS_TIMEOUT_MS = 10_000;
const EVENT_POLL_MS = 500;
const HEARTBEAT_MS = 15_000;
/** status.json is rendered once per state of the rescue, and at most this old (its rates drift between states). */
const STATUS_MAX_AGE_MS = 1000;

/** Who may use the page and how downloads are bounded (the defaults are the product's; tests shorten them). */
export interface HttpLimits {
  /** mount --allow-other: any local user may read the mount, so the loopback page serves them too. */
  allowOther?: boolean;
  /** Downloads at once; beyond it 503 (each holds a snapshot of its file and up to a MiB in flight). */
  maxDownloads?: number;
  /** A download whose client takes no bytes for this long is dropped (a stalled tab holds no memory forever). */
  downloadStallMs?: number;
}
const DEFAULT_LIMITS: Required<Omit<HttpLimits, 'allowOther'>> = { maxDownloads: 8, downloadStallMs: 60_000 };

/** Unsent event bytes after which a subscriber that does not read (a suspended tab) is dropped; EventSource
 *  reconnects by itself once it reads again. Events are a few hundred bytes: this is thousands of them. */
const MAX_EVENT_BACKLOG = 1024 * 1024;

/** The host name of a Host header ("127.0.0.1:8080", "[::1]:80", "localhost"). */
function hostOf(header: string): string {
  const m = /^\[([^\]]*)\]/.exec(header);
  return m ? m[1] : header.replace(/:\d*$/, '');
}

/**
 * Which Host headers reach the page. Another DNS name is a page elsewhere reaching in by DNS rebinding (its name
 * made to resolve to this machine): on loopback only loopback names pass; listening beyond it, an IP address,
 * localhost, this machine's name (os.hostname(), its first label, that .local) or the name --http gave (so
 * `--http archive-pc.lan:8080` is reached as archive-pc.lan). Not any domain under the machine's first label:
 * "ubuntu.attacker.example" would pass for every machine called ubuntu.
 */
function hostCheck(listenHost: string, loopback: boolean): (host: string) => boolean {
  if (loopback) return isLoopback;
  const full = os.hostname().toLowerCase();
  const short = full.split('.')[0];
  const names = new Set(['localhost', full, short, `${short}.local`, listenHost.toLowerCase()]);
  return (host) => isIP(host) !== 0 || names.has(host.toLowerCase());
}

/**
 * Fetch metadata (Sec-Fetch-*): a request another site's page had the browser make (a script, an image, a frame, a
 * link to a download) — refused, as it could set the medium reading (image.sbx completes the rescue first). Another
 * port on this host is 'same-site', and refused too. A link elsewhere to the page itself is let through; so are
 * requests without these headers (curl, wget, older browsers), which no other site made.
 */
function fromAnotherSite(req: http.IncomingMessage, segs: readonly string[]): boolean {
  const site = req.headers['sec-fetch-site'];
  if (site === undefined || site === 'same-origin' || site === 'none') return false;
  return !(segs.length === 0 && req.headers['sec-fetch-mode'] === 'navigate' && req.headers['sec-fetch-dest'] === 'document');
}

export class HttpServer {
  private readonly clients = new Set<http.ServerResponse>();
  private timer: NodeJS.Timeout | undefined;
  private lastKey = '';
  private lastBeat = 0;
  /** The last render of each picture or list and the state it shows: open pages share it (see byState). */
  private readonly renders = new Map<string, { key: string; at: number; value: string | Buffer }>();
  private downloads = 0;
  /** Per connection: whether its peer may use the page (looked up once, on its first request). */
  private readonly peers = new WeakMap<Socket, Promise<boolean>>();
  /** Users refused, each logged once. */
  private readonly refusedUids = new Set<number | undefined>();

  private constructor(
    private readonly server: http.Server,
    private readonly deps: HttpDeps,
    readonly url: string,
    private readonly hostAllowed: (host: string) => boolean,
    private readonly peerCheck: boolean,
    private readonly limits: Required<Omit<HttpLimits, 'allowOther'>>,
  ) {}

  static async listen(address: { host: string; port: number }, deps: HttpDeps, limits: HttpLimits = {}): Promise<HttpServer> {
    // A GET has no body: the whole request is its head. (Node checks these every few seconds, not to the ms.)
    const server = http.createServer({ headersTimeout: HEADERS_TIMEOUT_MS, requestTimeout: HEADERS_TIMEOUT_MS, connectionsCheckingInterval: 2000 });
    server.maxConnections = MAX_CONNECTIONS;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) =>
        reject(new UserError(`cannot serve the web page on ${address.host}:${address.port}: ${err.code ?? err.message}`)),
      );
      server.listen(address.port, address.host, () => resolve());
    });
    const a = server.address() as AddressInfo;
    const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
    // Loopback by where it listens, not by the name it was given (a name may resolve anywhere).
    const loopback = isLoopback(a.address);
    // On loopback only this mount's user (or root) is served, as the mount itself allows; beyond it the user chose
    // to share the page (and was warned). /proc/net tells a socket's owner only for this machine's own sockets.
    const peerCheck = loopback && !limits.allowOther && typeof process.getuid === 'function';
    const self = new HttpServer(server, deps, `http://${host}:${a.port}/`, hostCheck(address.host, loopback), peerCheck, { ...DEFAULT_LIMITS, ...withoutUndefined(limits) });
    server.on('request', (req, res) => {
      self.handle(req, res).catch((err: unknown) => {
        deps.log.error(`http ${req.method} ${req.url}`, err);
        if (!res.headersSent) self.send(res, 500, 'text/plain', 'internal error\n');
        else res.destroy();
      });
    });
    if (!loopback) deps.log.warn(`the web page listens on ${self.url}: not loopback, anyone who can reach it can read the rescue`);
    deps.log.info(`web page on ${self.url}`);
    return self;
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    for (const c of this.clients) c.end();
    this.clients.clear();
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  private send(res: http.ServerResponse, code: number, type: string, body: string | Buffer, head = false): void {
    res.writeHead(code, {
      'content-type': type,
      'content-length': String(Buffer.byteLength(body)),
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      'content-security-policy': PAGE_CSP, // the page's; for the other files (an SVG opened alone) it forbids scripts
    });
    res.end(head ? undefined : body);
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const head = req.method === 'HEAD';
    if (!(await this.peerAllowed(req.socket))) {
      return this.send(res, 403, 'text/plain', "refused: this page serves the mount's user only (mount --allow-other lets every user read it)\n", head);
    }
    if (req.method !== 'GET' && !head) return this.send(res, 405, 'text/plain', 'read-only\n');
    if (!this.hostAllowed(hostOf(req.headers.host ?? ''))) {
      return this.send(res, 403, 'text/plain', 'bad Host: reach the page by IP address or by this machine\'s name (DNS rebinding is refused)\n', head);
    }
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://x');
    } catch {
      return this.send(res, 400, 'text/plain', 'bad request target\n', head); // e.g. "//": the client's mistake, not ours
    }
    const segs = pathSegments(url.pathname);
    const d = this.deps;
    if (!segs) return this.send(res, 404, 'text/plain', 'not found\n', head);
    if (fromAnotherSite(req, segs)) return this.send(res, 403, 'text/plain', 'refused: a request from another site\n', head);
    switch (segs.join('/')) {
      case '':
        return this.send(res, 200, 'text/html; charset=utf-8', PAGE_HTML, head);
      case 'status.json':
        return this.send(res, 200, 'application/json', this.byState('status', () => d.statusText(), STATUS_MAX_AGE_MS), head);
      case 'map.png':
        return this.send(res, 200, 'image/png', this.byState('png', () => d.mapPng()), head);
      case 'map.svg':
        return this.send(res, 200, 'image/svg+xml', this.byState('svg', () => d.mapSvg()), head);
      case 'bad-areas.json':
        return this.send(res, 200, 'application/json', this.byState('bad', () => JSON.stringify(d.badAreas(1000))), head);
      case 'rescued.json':
        return this.send(res, 200, 'application/json', JSON.stringify(await listRescued(d.root)), head);
      case 'events':
        return head ? this.send(res, 200, 'text/event-stream', '', true) : this.subscribe(res);
    }
    const view = await downloadable(d.root, segs);
    if (!view) return this.send(res, 404, 'text/plain', 'not found\n', head);
    if (this.downloads >= this.limits.maxDownloads) {
      res.setHeader('retry-after', '10');
      return this.send(res, 503, 'text/plain', `busy: ${this.limits.maxDownloads} downloads under way, try again in a moment\n`, head);
    }
    this.downloads++;
    try {
      await streamView(view, res, segs[segs.length - 1], head, this.limits.downloadStallMs);
    } catch (err) {
      // What a reader of the mount would get (errno.ts), as a status: 404 gone, 503 the medium is not there now (or
      // its server failed the read for a passing reason).
      const errno = errnoNameOf(err);
      if (!(err instanceof ViewErrno)) d.log.error(`http ${req.method} ${req.url}`, err);
      if (res.headersSent) return void res.destroy();
      const code = errno === 'ENOENT' ? 404 : errno === 'ENXIO' || errno === 'ENOMEDIUM' || err instanceof TransientReadError ? 503 : 500;
      const why = err instanceof ViewErrno ? err.reason : err instanceof Error ? err.message : undefined;
      this.send(res, code, 'text/plain', `${errno}${why ? `: ${why}` : ''}\n`, head);
    } finally {
      this.downloads--;
    }
  }

  /** Whether the connection's peer is this mount's user or root (always, when the page is not checked so). */
  private peerAllowed(socket: Socket): Promise<boolean> {
    if (!this.peerCheck) return Promise.resolve(true);
    let known = this.peers.get(socket);
    if (!known) {
      const client = { address: socket.remoteAddress ?? '', port: socket.remotePort ?? 0 };
      const server = { address: socket.localAddress ?? '', port: socket.localPort ?? 0 };
      known = peerUid(client, server).then((uid) => {
        const ok = uid !== undefined && (uid === 0 || uid === process.getuid!());
        if (!ok && !this.refusedUids.has(uid)) {
          this.refusedUids.add(uid);
          this.deps.log.warn(`web page: refused a connection from ${uid === undefined ? 'a process whose user could not be told' : `uid ${uid}`} (only the mount's user and root; mount --allow-other lets every user read it)`);
        }
        return ok;
      });
      this.peers.set(socket, known);
    }
    return known;
  }

  /**
   * A render of the map (~100 ms of the event loop FUSE shares, for a 2 TB medium with 100,000 bad extents) once per
   * state of the rescue: every open page asks again on each change, and N tabs must not cost N renders.
   */
  private byState<T extends string | Buffer>(name: string, render: () => T, maxAgeMs = Infinity): T {
    const key = this.deps.stateKey();
    const now = Date.now();
    const last = this.renders.get(name);
    if (last && last.key === key && now - last.at < maxAgeMs) return last.value as T;
    const value = render();
    this.renders.set(name, { key, at: now, value });
    return value;
  }

  /** Server-sent events: a `status` event whenever the state key changes (checked every 500 ms). */
  private subscribe(res: http.ServerResponse): void {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
    if (this.clients.size === 0) this.lastKey = this.deps.stateKey();
    res.write(`event: status\ndata: ${JSON.stringify(this.lastKey)}\n\n`);
    this.clients.add(res);
    res.on('close', () => {
      this.clients.delete(res);
      if (this.clients.size === 0 && this.timer) {
        clearInterval(this.timer);
        this.timer = undefined;
      }
    });
    this.timer ??= setInterval(() => this.tick(), EVENT_POLL_MS);
  }

  private tick(): void {
    const key = this.deps.stateKey();
    const now = Date.now();
    let msg: string | undefined;
    if (key !== this.lastKey) msg = `event: status\ndata: ${JSON.stringify(key)}\n\n`;
    else if (now - this.lastBeat > HEARTBEAT_MS) msg = ': heartbeat\n\n';
    if (!msg) return;
    this.lastKey = key;
    this.lastBeat = now;
    for (const c of this.clients) {
      if (c.writableLength > MAX_EVENT_BACKLOG) c.destroy(); // its 'close' removes it
      else c.write(msg);
    }
  }
}

/** The fields given (an option left undefined keeps its default). */
function withoutUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
