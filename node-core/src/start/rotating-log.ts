// A log file rotated by size: gyre.log, then gyre.log.1 (newest) ... gyre.log.N (oldest), the
// oldest dropped. Written synchronously, line by line, so a crash loses no line already logged
// and the node needs no helper process (pino's transports run in a worker thread, and
// pino-roll/rotating-file-stream rotate asynchronously, losing lines at a SIGKILL or exit).
// Any failure to write (disk full, folder removed) is counted and swallowed: the log must never
// take the node down with it; the next line tries again.

import { closeSync, fstatSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';

export interface RotatingLogOptions {
  readonly file: string;
  /** Rotate once the current file would pass this many bytes. */
  readonly maxBytes: number;
  /** Rotated files kept besides the current one. */
  readonly files: number;
}

export class RotatingLog {
  private fd: number | undefined;
  private size = 0;
  /** Lines that could not be written. */
  dropped = 0;

  constructor(private readonly opts: RotatingLogOptions) {
    this.open();
    if (this.fd === undefined) throw new Error(`cannot open the log file ${opts.file}`);
  }

  /** pino's destination interface: one call per log line. */
  write(line: string): boolean {
    const bytes = Buffer.byteLength(line);
    if (this.size > 0 && this.size + bytes > this.opts.maxBytes) this.rotate();
    if (this.fd === undefined) this.open();
    if (this.fd === undefined) {
      this.dropped++;
      return true;
    }
    try {
      writeSync(this.fd, line);
      this.size += bytes;
    } catch {
      this.dropped++;
    }
    return true;
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  private open(): void {
    try {
      this.fd = openSync(this.opts.file, 'a', 0o600);
      this.size = fstatSync(this.fd).size;
    } catch {
      this.fd = undefined;
    }
  }

  private rotate(): void {
    this.close();
    const f = this.opts.file;
    try {
      rmSync(`${f}.${this.opts.files}`, { force: true });
      for (let i = this.opts.files - 1; i >= 1; i--) {
        try {
          renameSync(`${f}.${i}`, `${f}.${i + 1}`);
        } catch {
          // that one does not exist yet
        }
      }
      renameSync(f, `${f}.1`);
    } catch {
      // Could not rotate (permissions, a removed folder): keep appending to what there is.
    }
    this.open();
  }
}
