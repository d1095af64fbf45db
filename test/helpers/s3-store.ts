// A real S3 protocol server on loopback for tests (s3rver, files in a temp dir) behind a small counting HTTP proxy:
// the proxy records every request (so a test can tell which multipart parts were sent, and when), and can be
// stopped and started again on the same port to play a store that goes away.
import * as fs from 'fs';
import * as http from 'http';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const S3rver = require('s3rver') as new (opts: object) => { run(): Promise<{ port: number }>; close(): Promise<void> };

// The SDK's notice about its future Node 22 floor (blkfs supports Node 20) would clutter the test output.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

export const S3_ENV = { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_REGION: 'us-east-1' };

export interface LoggedRequest {
  method: string;
  url: string;
  status?: number;
  at: number;
}

export class CountingProxy {
  readonly requests: LoggedRequest[] = [];
  private server: http.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  /** Requests forwarded to s3rver and not finished: cut with the client's, or s3rver waits forever for their body. */
  private readonly upstream = new Set<http.ClientRequest>();
  port = 0;
  /** Called when a request arrives (before it is forwarded). */
  onRequest: (r: LoggedRequest) => void = () => {};
  /** Called once the answer to a request has been passed on to the client. */
  onResponse: (r: LoggedRequest) => void = () => {};

  constructor(private readonly target: number) {}

  async start(port = 0): Promise<void> {
    const server = http.createServer((req, res) => {
      const rec: LoggedRequest = { method: req.method ?? '', url: req.url ?? '', at: Date.now() };
      this.requests.push(rec);
      this.onRequest(rec);
      // No keep-alive upstream: s3rver's close() would wait for idle connections.
      const up = http.request({ host: '127.0.0.1', port: this.target, method: req.method, path: req.url, headers: req.headers, agent: false }, (ur) => {
        rec.status = ur.statusCode;
        res.writeHead(ur.statusCode ?? 502, ur.headers);
        res.on('finish', () => this.onResponse(rec));
        ur.pipe(res);
      });
      this.upstream.add(up);
      up.on('close', () => this.upstream.delete(up));
      up.on('error', () => res.destroy());
      req.on('close', () => {
        if (!req.complete) up.destroy(); // the client went away mid-body (or stop() cut it)
      });
      req.pipe(up);
    });
    server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
    this.port = (server.address() as net.AddressInfo).port;
    this.server = server;
  }

  /** The store goes away: no new connections, open ones cut. */
  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    for (const sock of this.sockets) sock.destroy();
    for (const up of this.upstream) up.destroy();
    await new Promise((r) => s.close(() => r(undefined)));
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Part numbers of successful UploadPart requests, in order (from index `from` of the log). */
  partsSent(from = 0): number[] {
    return this.requests
      .slice(from)
      .filter((r) => r.method === 'PUT' && /[?&]partNumber=\d+/.test(r.url) && r.status === 200)
      .map((r) => Number(/[?&]partNumber=(\d+)/.exec(r.url)![1]));
  }
}

export async function startS3(dir: string): Promise<{ port: number; stop: () => Promise<void> }> {
  const server = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory: dir, configureBuckets: [{ name: 'bags' }] });
  const { port } = await server.run();
  return { port, stop: () => server.close() };
}

/**
 * For a describe block: s3rver on loopback (its files in a temp dir) and the S3 environment (S3_ENV) set before its
 * tests, both undone after them. `dir` (the temp dir, for the test's own files too) and `port` are known from then.
 */
export function useS3Server(tag: string): { readonly dir: string; readonly port: number } {
  let dir = '';
  let s3: { port: number; stop: () => Promise<void> } | undefined;
  const saved: Record<string, string | undefined> = {};
  before(async () => {
    for (const [k, v] of Object.entries(S3_ENV)) [saved[k], process.env[k]] = [process.env[k], v];
    dir = fs.mkdtempSync(path.join(os.tmpdir(), `blkfs-${tag}-`));
    s3 = await startS3(path.join(dir, 's3'));
  });
  after(async () => {
    await s3?.stop();
    for (const [k, v] of Object.entries(saved)) v === undefined ? delete process.env[k] : (process.env[k] = v);
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return {
    get dir() {
      return dir;
    },
    get port() {
      if (!s3) throw new Error('the S3 server is not started yet (use it in a test or a hook)');
      return s3.port;
    },
  };
}

/** Copies every object under `prefix` of `bucket` into `dir` (keys relative to the prefix). */
export async function downloadPrefix(endpoint: string, bucket: string, prefix: string, dir: string): Promise<string[]> {
  const client = new S3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  const list = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `${prefix}/` }));
  const keys = (list.Contents ?? []).map((o) => o.Key!);
  for (const key of keys) {
    const r = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    const file = path.join(dir, key.slice(prefix.length + 1));
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, Buffer.from(await r.Body!.transformToByteArray()));
  }
  client.destroy();
  return keys;
}
