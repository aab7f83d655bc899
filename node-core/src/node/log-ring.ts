// The node's recent log lines, in memory, for GET /admin/log: a ring bounded in bytes, each
// line numbered so a reader can follow the log (ask for the lines after the last it saw) and
// tell when it fell behind (the lines it asked for were already dropped). Fed by the log's
// destination (start/), one call per line; no clock, no I/O.

/** Bytes of log text kept (older lines are dropped first). */
export const logRingBytesMax = 1024 * 1024;
/** A line longer than this is kept cut to it (a line never takes the whole ring). */
export const logLineBytesMax = 16 * 1024;
/** Lines one read answers at most. */
export const logReadLinesMax = 1000;
/** Bytes a line costs besides its text (its number and the entry): counted so many short lines stay bounded too. */
const lineOverheadBytes = 32;

export interface LogLine {
  readonly seq: number;
  readonly text: string;
}

export interface LogRead {
  readonly lines: LogLine[];
  /** Pass as `after` to read on from here. */
  readonly next: number;
  /** Lines after `after` were dropped before this read. */
  readonly dropped: boolean;
}

const cutMarker = ' …[cut]';

export class LogRing {
  private readonly entries: LogLine[] = [];
  /** Index of the oldest kept entry in `entries` (dropped ones are compacted away in bulk). */
  private head = 0;
  private bytes = 0;
  private lastSeq = 0;

  constructor(private readonly bytesMax = logRingBytesMax) {}

  /** One line as the logger wrote it (its trailing newline is not kept). */
  push(line: string): void {
    let text = line.endsWith('\n') ? line.slice(0, -1) : line;
    if (text.length > logLineBytesMax || Buffer.byteLength(text) > logLineBytesMax) text = cutToBytes(text, logLineBytesMax - Buffer.byteLength(cutMarker)) + cutMarker;
    const entry = { seq: ++this.lastSeq, text };
    this.entries.push(entry);
    this.bytes += cost(entry);
    while (this.bytes > this.bytesMax && this.head < this.entries.length - 1) this.bytes -= cost(this.entries[this.head++]!);
    // Compact once the dropped prefix is as long as what is kept: amortised O(1) a line.
    if (this.head > 0 && this.head * 2 >= this.entries.length) {
      this.entries.splice(0, this.head);
      this.head = 0;
    }
  }

  /** The last line's number (0: none yet). */
  get last(): number {
    return this.lastSeq;
  }

  /**
   * With `after`: the first `lines` lines after it that contain `filter` (case-insensitive).
   * Without: the last `lines` such lines. `next` is what to pass as `after` to follow.
   */
  read(opts: { readonly after: number | undefined; readonly filter: string | undefined; readonly lines: number }): LogRead {
    const needle = opts.filter?.toLowerCase();
    const matches = (l: LogLine) => needle === undefined || l.text.toLowerCase().includes(needle);
    const first = this.entries[this.head];
    if (opts.after === undefined) {
      const out: LogLine[] = [];
      for (let i = this.entries.length - 1; i >= this.head && out.length < opts.lines; i--) if (matches(this.entries[i]!)) out.push(this.entries[i]!);
      return { lines: out.reverse(), next: this.lastSeq, dropped: false };
    }
    const after = opts.after;
    const dropped = first !== undefined && first.seq > after + 1;
    const out: LogLine[] = [];
    // Lines are numbered consecutively: the first after `after` is found by arithmetic.
    const start = first === undefined ? this.entries.length : Math.max(this.head, this.head + (after + 1 - first.seq));
    let next = Math.max(after, this.lastSeq);
    for (let i = start; i < this.entries.length; i++) {
      const l = this.entries[i]!;
      if (!matches(l)) continue;
      out.push(l);
      if (out.length >= opts.lines) {
        next = l.seq;
        break;
      }
    }
    // A reader ahead of the ring (a cursor from before a restart) starts again from the present.
    if (after > this.lastSeq) next = this.lastSeq;
    return { lines: out, next, dropped };
  }
}

function cost(l: LogLine): number {
  return Buffer.byteLength(l.text) + lineOverheadBytes;
}

/** The longest start of `s` that fits in `bytes` bytes of UTF-8, cut between characters. */
function cutToBytes(s: string, bytes: number): string {
  const b = Buffer.from(s).subarray(0, bytes);
  // A cut through a character leaves a replacement character at the end: drop it.
  return b.toString('utf8').replace(/\uFFFD$/, '');
}
