// SOURCE argument of `blkfs mount SOURCE ...`: a block device, an image file, or an NBD URI.
// URI forms follow the NBD URI spec (doc/uri.md in the NBD project), restricted to what blkfs speaks:
// plain TCP and Unix sockets, no TLS.
import * as fs from 'fs';
import * as path from 'path';
import { UserError } from '../errors';

export type NbdTarget =
  | { socket: string; exportName: string }
  | { host: string; port: number; exportName: string };

export type SourceSpec =
  | { kind: 'device'; path: string }
  | { kind: 'file'; path: string }
  | { kind: 'nbd'; target: NbdTarget };

/** The SOURCE given by the user cannot be used; the message is meant for the user (CLI exit 1). */
export class SourceArgError extends UserError {
  constructor(message: string) {
    super(message);
    this.name = 'SourceArgError';
  }
}

export const NBD_DEFAULT_PORT = 10809;

export function parseSourceArg(arg: string): SourceSpec {
  if (arg.trim() === '') throw new SourceArgError('SOURCE is empty: give a block device, an image file or an NBD URI');
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(arg)?.[1];
  if (scheme !== undefined) return { kind: 'nbd', target: parseNbdUri(arg, scheme.toLowerCase()) };
  return parsePath(arg);
}

function parsePath(arg: string): SourceSpec {
  const abs = path.resolve(arg);
  let st: fs.Stats;
  try {
    st = fs.statSync(abs);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new SourceArgError(`SOURCE not found: ${arg}`);
    throw new SourceArgError(`cannot access SOURCE ${arg}: ${(err as Error).message}`);
  }
  if (st.isDirectory()) throw new SourceArgError(`SOURCE is a directory, not a device or image file: ${arg}`);
  if (!st.isBlockDevice() && !st.isFile()) {
    throw new SourceArgError(`SOURCE is neither a block device nor a regular file: ${arg}`);
  }
  try {
    fs.accessSync(abs, fs.constants.R_OK);
  } catch {
    throw new SourceArgError(`SOURCE is not readable (permission denied): ${arg}`);
  }
  return { kind: st.isBlockDevice() ? 'device' : 'file', path: abs };
}

function parseNbdUri(arg: string, scheme: string): NbdTarget {
  if (scheme !== 'nbd' && scheme !== 'nbd+unix') {
    const hint = scheme === 'nbds' || scheme === 'nbds+unix' ? ' (TLS is not supported)' : '';
    throw new SourceArgError(
      `unsupported SOURCE URI scheme '${scheme}://'${hint}: use nbd://host[:port][/export] or nbd+unix:///export?socket=PATH`,
    );
  }
  let url: URL;
  try {
    url = new URL(arg);
  } catch {
    throw new SourceArgError(`malformed NBD URI: ${arg}`);
  }
  if (url.username || url.password) throw new SourceArgError(`NBD URI must not carry a user or password: ${arg}`);
  if (url.hash) throw new SourceArgError(`NBD URI must not have a #fragment: ${arg}`);
  // The export name is the path without its leading '/', percent-decoded (so '/' itself can be in it).
  let exportName: string;
  try {
    exportName = decodeURIComponent(url.pathname.replace(/^\//, ''));
  } catch {
    // A '%' not followed by two hex digits, or escapes that are not UTF-8 ("URI malformed", unclassified: exit 2).
    throw new SourceArgError(`malformed NBD URI: bad %-escape in the export name: ${arg}`);
  }
  const params = [...url.searchParams.keys()];

  if (scheme === 'nbd') {
    if (params.length > 0) throw new SourceArgError(`unsupported query parameter in NBD URI: ${params.join(', ')}`);
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    if (host === '') throw new SourceArgError(`NBD URI has no host: ${arg} (use nbd://host[:port][/export])`);
    const port = url.port === '' ? NBD_DEFAULT_PORT : Number(url.port);
    return { host, port, exportName };
  }

  if (url.host !== '') throw new SourceArgError(`nbd+unix URI must have an empty host (nbd+unix:///export?socket=PATH): ${arg}`);
  const unknown = params.filter((p) => p !== 'socket');
  if (unknown.length > 0) throw new SourceArgError(`unsupported query parameter in NBD URI: ${unknown.join(', ')}`);
  const socket = url.searchParams.get('socket');
  if (!socket) throw new SourceArgError(`nbd+unix URI needs ?socket=PATH: ${arg}`);
  return { socket, exportName };
}

/** The URI form of a target, for messages and logs. */
export function nbdTargetUri(target: NbdTarget): string {
  const name = encodeURIComponent(target.exportName);
  if ('socket' in target) return `nbd+unix:///${name}?socket=${target.socket}`;
  const host = target.host.includes(':') ? `[${target.host}]` : target.host;
  return `nbd://${host}:${target.port}/${name}`;
}
