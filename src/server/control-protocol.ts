// The server's control socket: one JSON object per line each way. A client sends one request and reads
// replies until `done` or `error`. Used by `blkfs umount`, `acquire` and `export`.

export type ControlRequest =
  /** lazy: unmount even while files are open (their next access fails); otherwise busy is an error. */
  | { cmd: 'shutdown'; lazy?: boolean }
  | { cmd: 'acquire' }
  /** Stops the acquisition this connection started or joined (Ctrl-C in `blkfs acquire`). */
  | { cmd: 'cancel' }
  | { cmd: 'export'; image: string; mapfile: string }
  /** blkfs verify MOUNTPOINT: every cached byte against its checksum, progress then the report. */
  | { cmd: 'verify' };

export type ControlReply =
  | { type: 'progress'; bytesDone: number; bytesTotal: number; phase?: string; pass?: number; currentPos?: number }
  | { type: 'done'; result?: unknown }
  | { type: 'error'; message: string; exitCode: number };

/** Splits a byte stream into JSON lines. */
export class LineDecoder {
  private buf = '';

  push(chunk: string): unknown[] {
    this.buf += chunk;
    const out: unknown[] = [];
    let nl: number;
    while ((nl = this.buf.indexOf('\n')) >= 0) {
      const line = this.buf.slice(0, nl).trim();
      this.buf = this.buf.slice(nl + 1);
      if (line !== '') out.push(JSON.parse(line));
    }
    return out;
  }
}

export function encodeLine(msg: ControlRequest | ControlReply): string {
  return JSON.stringify(msg) + '\n';
}

/** Where a server listens; short, since a Unix socket path is limited to 107 bytes. */
export function controlSocketPath(pid: number): string {
  const dir = process.env.XDG_RUNTIME_DIR && process.env.XDG_RUNTIME_DIR.length < 60 ? process.env.XDG_RUNTIME_DIR : '/tmp';
  return `${dir}/blkfs-${pid}.ctl`;
}
