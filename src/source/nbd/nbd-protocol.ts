// NBD wire format (https://github.com/NetworkBlockDevice/nbd/blob/master/doc/proto.md), split by phase like
// nbdkit's protocol-handshake-newstyle.c / protocol.c. Pure encoders and decoders: no I/O here.
// All integers are big-endian.
import { OperationError } from '../../errors';

/** The peer broke the protocol or refused what we need: the connection cannot be used. */
export class NbdProtocolError extends OperationError {
  constructor(message: string) {
    super(message);
    this.name = 'NbdProtocolError';
  }
}

/** The server does not know the export the URI names (NBD_REP_ERR_UNKNOWN): at mount time, the user's input. */
export class NbdUnknownExportError extends NbdProtocolError {
  constructor(message: string) {
    super(message);
    this.name = 'NbdUnknownExportError';
  }
}

/** The server serves this export over TLS only (NBD_REP_ERR_TLS_REQD), which blkfs does not speak: the user's setup. */
export class NbdTlsRequiredError extends NbdProtocolError {
  constructor(message: string) {
    super(message);
    this.name = 'NbdTlsRequiredError';
  }
}

/** The server offers no fixed newstyle handshake (oldstyle, or plain newstyle): a property of the server the user chose. */
export class NbdHandshakeUnsupportedError extends NbdProtocolError {
  constructor(message: string) {
    super(message);
    this.name = 'NbdHandshakeUnsupportedError';
  }
}

// ---- Handshake (fixed newstyle) ----
export const NBDMAGIC = 0x4e42444d41474943n;
export const IHAVEOPT = 0x49484156454f5054n;
export const CLISERV_MAGIC_OLDSTYLE = 0x00420281861253n;
export const REPLY_MAGIC_OPTION = 0x3e889045565a9n;

export const NBD_FLAG_FIXED_NEWSTYLE = 1 << 0;
export const NBD_FLAG_NO_ZEROES = 1 << 1;
export const NBD_FLAG_C_FIXED_NEWSTYLE = 1 << 0;
export const NBD_FLAG_C_NO_ZEROES = 1 << 1;

export const NBD_OPT_GO = 7;
export const NBD_OPT_STRUCTURED_REPLY = 8;

export const NBD_REP_ACK = 1;
export const NBD_REP_INFO = 3;
export const NBD_REP_FLAG_ERROR = 0x80000000;
const REP_ERROR_NAMES: Record<number, string> = {
  1: 'unsupported option',
  2: 'forbidden by server policy',
  3: 'invalid option',
  4: 'not supported on this platform',
  5: 'TLS required',
  6: 'unknown export',
  7: 'server shutting down',
  8: 'block size negotiation required',
  9: 'request too big',
};
export const NBD_REP_ERR_UNSUP = (NBD_REP_FLAG_ERROR | 1) >>> 0;
export const NBD_REP_ERR_UNKNOWN = (NBD_REP_FLAG_ERROR | 6) >>> 0;
export const NBD_REP_ERR_TLS_REQD = (NBD_REP_FLAG_ERROR | 5) >>> 0;

export const NBD_INFO_EXPORT = 0;
export const NBD_INFO_BLOCK_SIZE = 3;

// ---- Transmission ----
export const NBD_FLAG_HAS_FLAGS = 1 << 0;
export const NBD_FLAG_READ_ONLY = 1 << 1;

export const NBD_REQUEST_MAGIC = 0x25609513;
export const NBD_SIMPLE_REPLY_MAGIC = 0x67446698;
export const NBD_STRUCTURED_REPLY_MAGIC = 0x668e33ef;
export const NBD_CMD_READ = 0;
export const NBD_CMD_DISC = 2;

export const NBD_REPLY_FLAG_DONE = 1 << 0;
export const NBD_REPLY_TYPE_NONE = 0;
export const NBD_REPLY_TYPE_OFFSET_DATA = 1;
export const NBD_REPLY_TYPE_OFFSET_HOLE = 2;
export const NBD_REPLY_TYPE_ERROR = 0x8001;
export const NBD_REPLY_TYPE_ERROR_OFFSET = 0x8002;
export const NBD_REPLY_TYPE_ERROR_BIT = 0x8000;

export const NBD_EIO = 5;
export const NBD_EINVAL = 22;
export const NBD_ESHUTDOWN = 108;

export const SERVER_GREETING_SIZE = 18;
export const OPTION_REPLY_HEADER_SIZE = 20;
export const REQUEST_SIZE = 28;
export const SIMPLE_REPLY_HEADER_SIZE = 16;
export const STRUCTURED_REPLY_HEADER_SIZE = 20;

/** Without NBD_INFO_BLOCK_SIZE the spec promises a 32 MiB payload limit to portable clients. */
export const DEFAULT_MAX_PAYLOAD = 32 * 1024 * 1024;

export interface BlockSizeInfo {
  min: number;
  preferred: number;
  max: number;
}

export function parseServerGreeting(buf: Buffer): { handshakeFlags: number } {
  if (buf.readBigUInt64BE(0) !== NBDMAGIC) throw new NbdProtocolError('not an NBD server (bad greeting magic)');
  const second = buf.readBigUInt64BE(8);
  if (second === CLISERV_MAGIC_OLDSTYLE) throw new NbdHandshakeUnsupportedError('the server speaks the oldstyle NBD handshake');
  if (second !== IHAVEOPT) throw new NbdProtocolError('bad newstyle greeting magic');
  const handshakeFlags = buf.readUInt16BE(16);
  if (!(handshakeFlags & NBD_FLAG_FIXED_NEWSTYLE)) throw new NbdHandshakeUnsupportedError('the server speaks the newstyle NBD handshake without the fixed newstyle flag');
  return { handshakeFlags };
}

/** Client flags: only bits the server offered, anything else makes it drop the connection. */
export function encodeClientFlags(handshakeFlags: number): Buffer {
  const buf = Buffer.alloc(4);
  buf.writeUInt32BE(NBD_FLAG_C_FIXED_NEWSTYLE | (handshakeFlags & NBD_FLAG_NO_ZEROES ? NBD_FLAG_C_NO_ZEROES : 0));
  return buf;
}

export function encodeOption(option: number, data: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(16);
  head.writeBigUInt64BE(IHAVEOPT, 0);
  head.writeUInt32BE(option, 8);
  head.writeUInt32BE(data.length, 12);
  return Buffer.concat([head, data]);
}

/** NBD_OPT_GO / NBD_OPT_INFO data: export name, then the NBD_INFO_* codes asked for. */
export function encodeGoData(exportName: string, infoRequests: number[]): Buffer {
  const name = Buffer.from(exportName, 'utf8');
  const buf = Buffer.alloc(4 + name.length + 2 + 2 * infoRequests.length);
  buf.writeUInt32BE(name.length, 0);
  name.copy(buf, 4);
  buf.writeUInt16BE(infoRequests.length, 4 + name.length);
  infoRequests.forEach((code, i) => buf.writeUInt16BE(code, 6 + name.length + 2 * i));
  return buf;
}

export interface OptionReplyHeader {
  option: number;
  type: number;
  length: number;
}

export function parseOptionReplyHeader(buf: Buffer, expectedOption: number): OptionReplyHeader {
  if (buf.readBigUInt64BE(0) !== REPLY_MAGIC_OPTION) throw new NbdProtocolError('bad option reply magic');
  const header = { option: buf.readUInt32BE(8), type: buf.readUInt32BE(12), length: buf.readUInt32BE(16) };
  if (header.option !== expectedOption) {
    throw new NbdProtocolError(`option reply for option ${header.option}, expected ${expectedOption}`);
  }
  return header;
}

export function isOptionError(type: number): boolean {
  return (type & NBD_REP_FLAG_ERROR) !== 0;
}

/** The server's error reply to NBD_OPT_GO as the error to throw. */
export function goRefusal(exportName: string, type: number, payload: Buffer): NbdProtocolError {
  const what = type === NBD_REP_ERR_UNSUP ? 'server does not support NBD_OPT_GO' : `export '${exportName}' refused`;
  const message = `${what} (${describeOptionError(type, payload)})`;
  if (type === NBD_REP_ERR_UNKNOWN) return new NbdUnknownExportError(message);
  if (type === NBD_REP_ERR_TLS_REQD) {
    return new NbdTlsRequiredError(
      `${message}: blkfs speaks NBD without TLS; reach it through a local nbdkit that does (nbdkit -r -U SOCK nbd uri=nbds://HOST/EXPORT …), then mount nbd+unix:///?socket=SOCK`,
    );
  }
  return new NbdProtocolError(message);
}

export function describeOptionError(type: number, payload: Buffer): string {
  const name = REP_ERROR_NAMES[type & 0x7fffffff] ?? `error 0x${(type >>> 0).toString(16)}`;
  const text = payload.toString('utf8').trim();
  return text ? `${name}: ${text}` : name;
}

export type InfoReply =
  | { kind: 'export'; size: number; transmissionFlags: number }
  | { kind: 'blockSize'; blockSize: BlockSizeInfo }
  | { kind: 'other'; code: number };

export function parseInfoReply(payload: Buffer): InfoReply {
  if (payload.length < 2) throw new NbdProtocolError('NBD_REP_INFO shorter than 2 bytes');
  const code = payload.readUInt16BE(0);
  if (code === NBD_INFO_EXPORT) {
    if (payload.length !== 12) throw new NbdProtocolError(`NBD_INFO_EXPORT of length ${payload.length}, expected 12`);
    const size = payload.readBigUInt64BE(2);
    if (size > BigInt(Number.MAX_SAFE_INTEGER)) throw new NbdProtocolError(`export size ${size} too large`);
    return { kind: 'export', size: Number(size), transmissionFlags: payload.readUInt16BE(10) };
  }
  if (code === NBD_INFO_BLOCK_SIZE) {
    if (payload.length !== 14) throw new NbdProtocolError(`NBD_INFO_BLOCK_SIZE of length ${payload.length}, expected 14`);
    const blockSize = { min: payload.readUInt32BE(2), preferred: payload.readUInt32BE(6), max: payload.readUInt32BE(10) };
    validateBlockSize(blockSize);
    return { kind: 'blockSize', blockSize };
  }
  return { kind: 'other', code };
}

function isPowerOfTwo(n: number): boolean {
  return n > 0 && (n & (n - 1)) === 0;
}

function validateBlockSize({ min, preferred, max }: BlockSizeInfo): void {
  const ok = isPowerOfTwo(min) && min <= 65536 && isPowerOfTwo(preferred) && preferred >= Math.max(min, 512) &&
    max >= preferred; // the maximum need not be a multiple of the minimum (readRange rounds its pieces down to one)
  if (!ok) throw new NbdProtocolError(`invalid NBD_INFO_BLOCK_SIZE min=${min} preferred=${preferred} max=${max}`);
}

export interface Request {
  type: number;
  flags?: number;
  cookie: number;
  offset: number;
  length: number;
}

export function encodeRequest(req: Request): Buffer {
  const buf = Buffer.alloc(REQUEST_SIZE);
  buf.writeUInt32BE(NBD_REQUEST_MAGIC, 0);
  buf.writeUInt16BE(req.flags ?? 0, 4);
  buf.writeUInt16BE(req.type, 6);
  writeCookie(buf, 8, req.cookie);
  buf.writeBigUInt64BE(BigInt(req.offset), 16);
  buf.writeUInt32BE(req.length, 24);
  return buf;
}

// Cookies are opaque to the server; ours are 32-bit counters stored in the low half.
function writeCookie(buf: Buffer, at: number, cookie: number): void {
  buf.writeUInt32BE(0, at);
  buf.writeUInt32BE(cookie >>> 0, at + 4);
}

function readCookie(buf: Buffer, at: number): number {
  return buf.readUInt32BE(at) * 2 ** 32 + buf.readUInt32BE(at + 4);
}

/** The first 4 bytes of any reply say which form follows. */
export function replyMagic(buf: Buffer): number {
  return buf.readUInt32BE(0);
}

export interface SimpleReplyHeader {
  error: number;
  cookie: number;
}

export function parseSimpleReplyHeader(buf: Buffer): SimpleReplyHeader {
  if (buf.readUInt32BE(0) !== NBD_SIMPLE_REPLY_MAGIC) throw new NbdProtocolError('bad simple reply magic');
  return { error: buf.readUInt32BE(4), cookie: readCookie(buf, 8) };
}

export interface ChunkHeader {
  flags: number;
  type: number;
  cookie: number;
  length: number;
}

export function parseChunkHeader(buf: Buffer): ChunkHeader {
  if (buf.readUInt32BE(0) !== NBD_STRUCTURED_REPLY_MAGIC) throw new NbdProtocolError('bad structured reply magic');
  return { flags: buf.readUInt16BE(4), type: buf.readUInt16BE(6), cookie: readCookie(buf, 8), length: buf.readUInt32BE(16) };
}

export function isErrorChunk(type: number): boolean {
  return (type & NBD_REPLY_TYPE_ERROR_BIT) !== 0;
}

export interface ErrorChunk {
  errno: number;
  message: string;
  /** Only for NBD_REPLY_TYPE_ERROR_OFFSET: the first byte the error applies to. */
  offset?: number;
}

/** Error chunks: error(32), message length(16), message, then offset(64) for ERROR_OFFSET. */
export function parseErrorChunk(type: number, payload: Buffer): ErrorChunk {
  if (payload.length < 6) throw new NbdProtocolError('error chunk shorter than 6 bytes');
  const errno = payload.readUInt32BE(0);
  // An error of 0 is no error (the spec: MUST be nonzero); taken for one, it would mark good sectors bad.
  if (errno === 0) throw new NbdProtocolError('error chunk with error 0');
  const msgLen = payload.readUInt16BE(4);
  if (6 + msgLen > payload.length) throw new NbdProtocolError('error chunk message overruns the chunk');
  const message = payload.toString('utf8', 6, 6 + msgLen);
  if (type !== NBD_REPLY_TYPE_ERROR_OFFSET) return { errno, message };
  if (payload.length !== 6 + msgLen + 8) throw new NbdProtocolError('ERROR_OFFSET chunk of wrong length');
  return { errno, message, offset: Number(payload.readBigUInt64BE(6 + msgLen)) };
}

export function parseHoleChunk(payload: Buffer): { offset: number; length: number } {
  if (payload.length !== 12) throw new NbdProtocolError(`OFFSET_HOLE chunk of length ${payload.length}, expected 12`);
  return { offset: Number(payload.readBigUInt64BE(0)), length: payload.readUInt32BE(8) };
}

const ERRNO_NAMES: Record<number, string> = {
  1: 'EPERM', 5: 'EIO', 12: 'ENOMEM', 22: 'EINVAL', 28: 'ENOSPC', 75: 'EOVERFLOW', 95: 'ENOTSUP', 108: 'ESHUTDOWN',
};

/**
 * Whether a READ error is the medium's: EIO, and EINVAL (nbdkit's file plugin sends any errno it has no NBD value
 * for as EINVAL, ENODATA (a medium error) and ENOMEDIUM included). Values outside the spec are taken as EINVAL, as
 * qemu does. ENOMEM, EPERM, ENOSPC, EOVERFLOW, ENOTSUP are the server's trouble, not the sectors'.
 */
export function isMediaErrno(errno: number): boolean {
  return errno === NBD_EIO || errno === NBD_EINVAL || !(errno in ERRNO_NAMES);
}

export function errnoName(errno: number): string {
  return ERRNO_NAMES[errno] ?? `errno ${errno}`;
}

/**
 * What is wrong with a successful READ reply made of these [start, end) spans, or undefined when they cover the
 * `length` requested bytes exactly once. Overlapping spans could add up to the length and still leave a gap.
 */
export function replyCoverageProblem(spans: readonly [number, number][], length: number): string | undefined {
  const sorted = [...spans].sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < sorted.length; i++) if (sorted[i][0] < sorted[i - 1][1]) return 'READ reply chunks overlap';
  const covered = sorted.reduce((n, [a, b]) => n + b - a, 0);
  return covered === length ? undefined : `READ reply covered ${covered} of ${length} bytes`;
}
