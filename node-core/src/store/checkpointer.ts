// WAL checkpoints off the event loop. SQLite's automatic checkpoint runs inside the COMMIT
// that crosses the threshold, on the node's one thread: with a write costing three or four
// WAL frames that is a checkpoint every ~300 writes, each with two fsyncs (3 ms each on this
// machine, measured with strace), stalling every request behind it. Here a worker thread with
// its own connection checkpoints a few times a second instead; the node's connection keeps a
// far threshold as a backstop should the worker fall behind or die.
//
// Durability is unchanged: a transaction is durable once its frames are in the WAL (and, with
// sync=full, fsynced there); a checkpoint only moves committed frames into the main file.

import { Worker } from 'node:worker_threads';

export const checkpointIntervalMs = 200;
/** The node's own automatic checkpoint, as a backstop: 64 MiB of WAL. */
export const backstopCheckpointPages = 16_384;

export class Checkpointer {
  private readonly worker: Worker;
  private stopped = false;

  constructor(file: string, sync: 'normal' | 'full', onError: (e: Error) => void) {
    this.worker = new Worker(new URL('./checkpoint-worker.js', import.meta.url), { workerData: { file, sync, intervalMs: checkpointIntervalMs } });
    this.worker.on('error', onError);
    // Not a reason to keep the process alive by itself.
    this.worker.unref();
  }

  /** Stops the worker (its connection closes first); resolves once it is gone. */
  stop(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    this.stopped = true;
    return new Promise((resolve) => {
      const done = () => resolve();
      this.worker.once('exit', done);
      this.worker.once('message', (m) => {
        if (m === 'stopped') void this.worker.terminate().then(done, done);
      });
      this.worker.postMessage('stop');
    });
  }
}
