// "At the end of this turn of the event loop", one scheduler for the production edges: the
// store's group commit, the internode sockets' coalesced writes and the RESP replies.
//
// Each of them batches what one turn produces and acts once, after the turn's I/O callbacks.
// With a setImmediate each, work that one of them starts (a commit resolving the writes that
// then go to the replicas, a replica's commit resolving the acks it then sends) waited for
// the next turn: an immediate queued while the check phase runs is run in the next loop
// iteration, after that iteration's I/O. Here the callbacks queued while the queue drains run
// in the same drain, once every promise continuation the earlier ones released has run: a
// write's local commit, its frames to the replicas and their acks leave in the same turn.

type Callback = () => void;

/** Rounds of one drain before the rest waits for the next turn (so I/O is never starved). */
const roundsPerTurnMax = 16;

let queue: Callback[] = [];
let scheduled = false;
let draining = false;
let rounds = 0;

/** Runs `fn` once the current turn's I/O callbacks and the microtasks they started are done. */
export function atEndOfTurn(fn: Callback): void {
  queue.push(fn);
  if (!scheduled && !draining) {
    scheduled = true;
    setImmediate(drain);
  }
}

function drain(): void {
  scheduled = false;
  draining = true;
  rounds = 0;
  runRound();
}

function runRound(): void {
  const batch = queue;
  queue = [];
  for (const fn of batch) {
    try {
      fn();
    } catch (e) {
      // A callback's failure is its own; the others still run. Rethrown outside the drain.
      queueMicrotask(() => {
        throw e;
      });
    }
  }
  rounds++;
  // Let every promise continuation the round released run (microtasks drain before the next
  // tick callback), then run what they queued.
  queueMicrotask(() => process.nextTick(nextRound));
}

function nextRound(): void {
  if (queue.length === 0) {
    draining = false;
    return;
  }
  if (rounds >= roundsPerTurnMax) {
    draining = false;
    scheduled = true;
    setImmediate(drain);
    return;
  }
  runRound();
}
