// The server's log: stderr in the foreground; a file in the cache dir once a background server knows it.
import * as fs from 'fs';

export class Log {
  private fd: number | undefined;

  /** Appends every later line to `file` instead of stderr. */
  toFile(file: string): void {
    this.fd = fs.openSync(file, 'a', 0o600);
    fs.fchmodSync(this.fd, 0o600); // the log names the medium and its damage: private like the cache
  }

  info(message: string): void {
    this.write(message);
  }

  error(message: string, err?: unknown): void {
    this.write(err === undefined ? message : `${message}: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
  }

  private write(message: string): void {
    const line = `${new Date().toISOString()} blkfs[${process.pid}] ${message}\n`;
    try {
      if (this.fd !== undefined) fs.writeSync(this.fd, line);
      else process.stderr.write(line);
    } catch {
      // A log that cannot be written (disk full) must not take the server down.
    }
  }
}
