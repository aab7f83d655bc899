// A chaos client: the recording workload client of node-core/src/verify/recorder.ts (the
// simulator's workload spoken over the real HTTP API, recorded into the same History), with
// its requests carried by the project's HTTP client, one pooled GyreClient per node, and its
// pauses on the wall clock.

import { GyreClient } from '../../../node-core/src/client/client.js';
import { realEnv } from '../../../node-core/src/start/real-env.js';
import type { History } from '../../../node-core/src/verify/history.js';
import { type NodePicker, type Observed, type RecorderOptions, RecordingClient, type Send } from '../../../node-core/src/verify/recorder.js';
import type { Rng } from '../sim/random.js';

export type { NodePicker, Observed } from '../../../node-core/src/verify/recorder.js';
export type ChaosClientOptions = RecorderOptions;

/** What a chaos client buffers of one response at most. */
const responseBytesMax = 8 * 1024 * 1024;
/** Pooled connections per node and client. */
const socketsPerNode = 4;

/** A Send over one pooled client per node; `close` closes them. */
export function pooledSend(): { send: Send; close: () => void } {
  const clients = new Map<string, GyreClient>();
  const send: Send = (base, req) => {
    let c = clients.get(base);
    if (!c) {
      c = new GyreClient({ failover: false, url: base, maxSockets: socketsPerNode, responseBytesMax });
      clients.set(base, c);
    }
    return c.request({ method: req.method, path: req.path, headers: req.headers, timeoutMs: req.timeoutMs, ...(req.body !== undefined ? { body: req.body } : {}) });
  };
  return { send, close: () => { for (const c of clients.values()) c.close(); } };
}

export class ChaosClient extends RecordingClient {
  private readonly pool: { send: Send; close: () => void };

  constructor(id: string, pick: NodePicker, history: History, rng: Rng, opts: ChaosClientOptions, now: () => number, observe: (o: Observed) => void) {
    const pool = pooledSend();
    super(id, pick, history, rng, opts, now, observe, pool.send, realEnv);
    this.pool = pool;
  }

  close(): void {
    this.pool.close();
  }
}
