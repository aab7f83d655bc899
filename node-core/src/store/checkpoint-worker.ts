// The WAL checkpointer of a SqliteStore, on a thread of its own (see checkpointer.ts): copies
// committed WAL frames into the database file, with the fsyncs that takes, off the node's event
// loop. A PASSIVE checkpoint never blocks the node's writer; it copies what no reader still
// needs and leaves the rest for the next round.

import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

interface Options {
  readonly file: string;
  readonly sync: 'normal' | 'full';
  readonly intervalMs: number;
}

const opts = workerData as Options;
const db = new Database(opts.file, { fileMustExist: true });
// The checkpointer's own sync setting decides whether a checkpoint fsyncs: as the node's.
db.pragma(`synchronous = ${opts.sync === 'full' ? 'FULL' : 'NORMAL'}`);
// Never wait for a lock: a busy round is simply tried again at the next one.
db.pragma('busy_timeout = 0');

let stopping = false;

function checkpoint(): void {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch {
    // SQLITE_BUSY or a transient error: next round.
  }
}

const timer = setInterval(() => {
  if (!stopping) checkpoint();
}, opts.intervalMs);

parentPort!.on('message', (m: unknown) => {
  if (m !== 'stop') return;
  stopping = true;
  clearInterval(timer);
  db.close();
  parentPort!.postMessage('stopped');
});
