// A bag in an S3-compatible bucket (AWS S3, MinIO, Ceph RGW, s3rver): data/image.sbx as a multipart upload whose
// parts are sent as they are produced (S3 assembles by part number, so the metadata part can go last), the small
// files as single PUTs. Every request carries Content-MD5 and an explicit SHA-256; the SDK's own default CRC32
// checksums (SDK ≥ 3.729) are turned off because several non-AWS stores reject them.
import { createHash } from 'crypto';
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListPartsCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import type { FileFixity } from './bagit';
import { BagStore, ImageFixity, PartRecord, StoreResume } from './bag-store';
import { BagVerifyError } from './dir-store';
import { UserError } from '../errors';
import { MAX_PARTS } from './part-plan';

export interface S3Target {
  bucket: string;
  /** Key prefix without leading or trailing '/' ('' for the bucket root). */
  prefix: string;
}

export interface S3Options {
  /** e.g. http://127.0.0.1:9000; default: AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL, else AWS itself. */
  endpoint?: string;
  region?: string;
  /** x-amz-meta-* user metadata for every object. */
  meta?: Record<string, string>;
}

/** s3://bucket[/prefix] → bucket and prefix; anything else is bad user input. */
export function parseS3Url(url: string): S3Target {
  const m = /^s3:\/\/([^/]+)\/?(.*)$/.exec(url);
  if (!m) throw new UserError(`not an S3 destination (s3://bucket/prefix): ${url}`);
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(m[1])) {
    throw new UserError(`not an S3 bucket name: "${m[1]}" in ${url} (3 to 63 characters: lowercase letters, digits, dots and hyphens)`);
  }
  const prefix = m[2].replace(/^\/+|\/+$/g, '');
  // S3's list and error replies are XML 1.0, which cannot carry most control characters (NUL among them): such a
  // key could be written and never listed or named again. A key is at most 1024 bytes, the bag's own names included.
  const control = /[\x00-\x1f\x7f]/.exec(prefix);
  if (control) throw new UserError(`S3 prefix in ${JSON.stringify(url)} has a control character (0x${control[0].charCodeAt(0).toString(16).padStart(2, '0')}) at ${control.index}`);
  if (Buffer.byteLength(prefix) > MAX_PREFIX_BYTES) throw new UserError(`S3 prefix in ${url} is ${Buffer.byteLength(prefix)} bytes long (at most ${MAX_PREFIX_BYTES}: an object key is at most 1024)`);
  return { bucket: m[1], prefix };
}

/** Room left in a 1024-byte object key for the bag's directory and file names (e.g. "medium-…/data/image.raw"). */
const MAX_PREFIX_BYTES = 768;

export function s3Client(opts: S3Options): S3Client {
  // blkfs supports Node 20 (package.json engines): the SDK's notice about its own future Node 22 floor is for us,
  // not for someone archiving a disc.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const endpoint = opts.endpoint ?? process.env.AWS_ENDPOINT_URL_S3 ?? process.env.AWS_ENDPOINT_URL;
  return new S3Client({
    ...(endpoint ? { endpoint } : {}),
    region: opts.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1',
    forcePathStyle: true,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: 2, // the archive retries each part itself, with its own backoff
  });
}

const b64 = (b: Buffer) => b.toString('base64');

/**
 * A user metadata value as an HTTP header can carry it: line breaks become spaces (Node refuses them in a header,
 * and so would S3), and anything beyond printable ASCII is RFC 2047 encoded, as S3 asks for non-ASCII metadata
 * (sent raw, Latin-1 was mangled and other characters refused, each failure after the retries of every request).
 */
export function s3MetadataValue(value: string): string {
  const v = value.replace(/[\r\n]+/g, ' ').trim();
  return /^[\x20-\x7e]*$/.test(v) ? v : `=?UTF-8?B?${Buffer.from(v, 'utf8').toString('base64')}?=`;
}

/** S3's limit on an object's user metadata: the bytes of every name (x-amz-meta-… as sent here) and value. */
export const MAX_S3_METADATA_BYTES = 2048;

/**
 * --meta as x-amz-meta-* values (s3MetadataValue), or a UserError when they pass S3's 2 KB: S3 refused such an
 * upload only once the archive started, after its retries, and it ended exit 2 for bad input.
 */
export function s3Metadata(meta: Readonly<Record<string, string>>): Record<string, string> {
  const out = Object.fromEntries(Object.entries(meta).map(([k, v]) => [k, s3MetadataValue(v)]));
  const bytes = Object.entries(out).reduce((n, [k, v]) => n + Buffer.byteLength(`x-amz-meta-${k}`) + Buffer.byteLength(v), 0);
  if (bytes > MAX_S3_METADATA_BYTES) {
    throw new UserError(`--meta: ${bytes} bytes as S3 user metadata (x-amz-meta-* names and values as sent), over S3's ${MAX_S3_METADATA_BYTES}: shorten them`);
  }
  return out;
}

/** The ETag S3 gives a multipart object: md5 of the parts' md5s, "-" part count. */
export function multipartEtag(partMd5s: readonly string[]): string {
  const h = createHash('md5');
  for (const m of partMd5s) h.update(Buffer.from(m, 'hex'));
  return `${h.digest('hex')}-${partMd5s.length}`;
}

function s3Message(err: unknown): string {
  const e = err as { name?: string; message?: string; code?: string; $metadata?: { httpStatusCode?: number } };
  const status = e.$metadata?.httpStatusCode;
  return [e.name, e.code, e.message, status ? `HTTP ${status}` : undefined].filter((x) => x && x !== 'Error').join(': ');
}

export class S3Store implements BagStore {
  readonly label: string;
  readonly wantsMd5 = true;
  readonly maxParts = MAX_PARTS;
  private readonly base: string;
  private uploadId: string | undefined;
  /** MD5 of each small file as sent, for verify(). */
  private readonly sentMd5 = new Map<string, string>();
  /** x-amz-meta-* headers, encoded as HTTP carries them. */
  private readonly meta: Record<string, string> | undefined;

  constructor(
    private readonly client: S3Client,
    private readonly target: S3Target,
    bag: string,
    opts: S3Options,
  ) {
    this.base = [target.prefix, bag].filter((s) => s !== '').join('/');
    this.label = `s3://${target.bucket}/${this.base}`;
    this.meta = opts.meta && s3Metadata(opts.meta);
  }

  private key(rel: string): string {
    return `${this.base}/${rel}`;
  }

  async bagExists(): Promise<boolean> {
    try {
      await this.client.send(new HeadObjectCommand({ Bucket: this.target.bucket, Key: this.key('tagmanifest-sha256.txt') }));
      return true;
    } catch (err) {
      const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (status === 404) return false;
      throw new Error(`${this.label}: ${s3Message(err)}`, { cause: err });
    }
  }

  async openImage(_size: number, saved: StoreResume | undefined): Promise<StoreResume> {
    const key = this.key('data/image.sbx');
    const listed = saved?.uploadId ? await this.listParts(key, saved.uploadId) : undefined;
    if (saved?.uploadId && listed !== 'gone') {
      this.uploadId = saved.uploadId;
      if (listed === undefined) return { uploadId: saved.uploadId, parts: { ...saved.parts } }; // store cannot list: trust our record
      // Keep the recorded parts the store still holds unchanged.
      const parts: Record<string, PartRecord> = {};
      for (const [n, rec] of Object.entries(saved.parts)) {
        const l = listed.get(Number(n));
        if (l && l.size === rec.size && (!l.etag || l.etag === rec.md5)) parts[n] = rec;
      }
      return { uploadId: saved.uploadId, parts };
    }
    const r = await this.client
      .send(
        new CreateMultipartUploadCommand({
          Bucket: this.target.bucket,
          Key: key,
          ContentType: 'application/octet-stream',
          ChecksumAlgorithm: 'SHA256',
          Metadata: this.meta,
        }),
      )
      .catch((err: unknown) => {
        // A destination that is not there is bad input, as a missing directory is: said at once, not retried.
        if ((err as { name?: string }).name === 'NoSuchBucket') throw new UserError(`${this.label}: the store has no bucket ${this.target.bucket} (NoSuchBucket)`);
        throw err;
      });
    if (!r.UploadId) throw new Error(`${this.label}: the store returned no multipart upload id`);
    this.uploadId = r.UploadId;
    return { uploadId: r.UploadId, parts: {} };
  }

  /** Parts the store holds for an upload; undefined when it cannot list them (e.g. s3rver); 'gone' when the upload
   *  was aborted or expired (a new one starts). */
  private async listParts(key: string, uploadId: string): Promise<Map<number, { size: number; etag?: string }> | undefined | 'gone'> {
    const out = new Map<number, { size: number; etag?: string }>();
    let marker: string | undefined;
    try {
      for (;;) {
        const r = await this.client.send(new ListPartsCommand({ Bucket: this.target.bucket, Key: key, UploadId: uploadId, PartNumberMarker: marker }));
        for (const p of r.Parts ?? []) {
          const etag = p.ETag?.replace(/"/g, '');
          out.set(p.PartNumber ?? 0, { size: p.Size ?? -1, etag: etag && /^[0-9a-f]{32}$/.test(etag) ? etag : undefined });
        }
        if (!r.IsTruncated) return out;
        marker = r.NextPartNumberMarker;
      }
    } catch (err) {
      const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (status === 404) return 'gone';
      if (status === 405 || status === 501) return undefined;
      throw err;
    }
  }

  async putPart(n: number, bytes: Buffer, md5: Buffer, sha256: Buffer): Promise<PartRecord> {
    const r = await this.client.send(
      new UploadPartCommand({
        Bucket: this.target.bucket,
        Key: this.key('data/image.sbx'),
        UploadId: this.uploadId,
        PartNumber: n,
        Body: bytes,
        ContentLength: bytes.length,
        ContentMD5: b64(md5),
        ChecksumSHA256: b64(sha256),
      }),
    ).catch((err: unknown) => {
      throw new Error(s3Message(err), { cause: err });
    });
    const etag = r.ETag?.replace(/"/g, '');
    if (etag && /^[0-9a-f]{32}$/.test(etag) && etag !== md5.toString('hex')) {
      throw new Error(`part ${n}: the store's ETag ${etag} is not the MD5 of what was sent (${md5.toString('hex')})`);
    }
    return { n, size: bytes.length, md5: md5.toString('hex'), sha256: sha256.toString('hex'), etag: r.ETag };
  }

  async completeImage(parts: PartRecord[]): Promise<void> {
    await this.client.send(
      new CompleteMultipartUploadCommand({
        Bucket: this.target.bucket,
        Key: this.key('data/image.sbx'),
        UploadId: this.uploadId,
        MultipartUpload: {
          Parts: [...parts].sort((a, b) => a.n - b.n).map((p) => ({ PartNumber: p.n, ETag: p.etag ?? `"${p.md5}"`, ChecksumSHA256: b64(Buffer.from(p.sha256, 'hex')) })),
        },
      }),
    ).catch(async (err: unknown) => {
      // A completion whose answer was lost (the store went away mid-request, in this run or an earlier one) leaves
      // the upload id gone and every retry failing: the object in place with the parts' size is that completion.
      // verify() then checks its bytes against the manifest, so nothing unchecked is taken as done.
      if (await this.imageInPlace(parts.reduce((n, p) => n + p.size, 0))) return;
      throw new Error(`${this.label}/data/image.sbx: completing the multipart upload failed: ${s3Message(err)}`, { cause: err });
    });
  }

  private async imageInPlace(size: number): Promise<boolean> {
    try {
      const h = await this.client.send(new HeadObjectCommand({ Bucket: this.target.bucket, Key: this.key('data/image.sbx') }));
      return h.ContentLength === size;
    } catch {
      return false;
    }
  }

  async putFile(relPath: string, bytes: Buffer, sha256: Buffer): Promise<void> {
    const md5 = createHash('md5').update(bytes).digest();
    this.sentMd5.set(relPath, md5.toString('hex'));
    await this.client.send(
      new PutObjectCommand({
        Bucket: this.target.bucket,
        Key: this.key(relPath),
        Body: bytes,
        ContentLength: bytes.length,
        ContentMD5: b64(md5),
        ChecksumSHA256: b64(sha256),
        ContentType: relPath.endsWith('.json') ? 'application/json' : 'text/plain; charset=utf-8',
        Metadata: this.meta,
      }),
    ).catch((err: unknown) => {
      throw new Error(s3Message(err), { cause: err });
    });
  }

  async finish(): Promise<void> {}

  /**
   * Size from HEAD; content by the ETag (MD5 for single PUTs; for multipart the whole object's MD5 or S3's
   * md5-of-part-md5s) or the stored SHA-256; when the store offers neither (e.g. SSE-KMS ETags), by reading the
   * object back.
   */
  /** S3 has no half-written name: the finished bag is where verify() looks. */
  verifyFinished(files: readonly FileFixity[], image: ImageFixity): Promise<void> {
    return this.verify(files, image);
  }

  async verify(files: readonly FileFixity[], image: ImageFixity): Promise<void> {
    for (const f of files) {
      const key = this.key(f.path);
      const where = `s3://${this.target.bucket}/${key}`;
      const h = await this.client.send(new HeadObjectCommand({ Bucket: this.target.bucket, Key: key, ChecksumMode: 'ENABLED' })).catch((err: unknown) => {
        const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
        throw status === 404 ? new BagVerifyError(`${where}: missing from the bag`) : err;
      });
      if (h.ContentLength !== f.size) throw new BagVerifyError(`${where}: ${h.ContentLength} bytes stored, the manifest says ${f.size}`);
      const etag = (h.ETag ?? '').replace(/"/g, '');
      const shaB64 = b64(Buffer.from(f.sha256, 'hex'));
      if (h.ChecksumSHA256 && !h.ChecksumSHA256.includes('-')) {
        if (h.ChecksumSHA256 !== shaB64) throw new BagVerifyError(`${where}: stored SHA-256 differs from the manifest`);
        continue;
      }
      // The MD5 of a small file is known when this run sent it (not for a bag an earlier run finished: read back).
      const sent = this.sentMd5.get(f.path);
      const expected = f.path === 'data/image.sbx' ? [image.md5, multipartEtag(image.parts.map((p) => p.md5))] : sent !== undefined ? [sent] : [];
      if (expected.length > 0 && /^[0-9a-f]{32}(-\d+)?$/.test(etag)) {
        if (!expected.includes(etag)) throw new BagVerifyError(`${where}: stored ETag ${etag} does not match what was archived (${expected.join(' or ')})`);
        continue;
      }
      await this.verifyByReading(where, key, f);
    }
  }

  private async verifyByReading(where: string, key: string, f: FileFixity): Promise<void> {
    const r = await this.client.send(new GetObjectCommand({ Bucket: this.target.bucket, Key: key }));
    const h = createHash('sha256');
    for await (const chunk of r.Body as AsyncIterable<Uint8Array>) h.update(chunk);
    if (h.digest('hex') !== f.sha256) throw new BagVerifyError(`${where}: content read back differs from the manifest`);
  }
}
