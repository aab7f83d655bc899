// Bugs planted in a node's storage, to prove the checker catches what it claims to. Each wraps
// the durable store the simulator gives a node (RunOptions.wrapStore).

import type { Version } from '../../node-core/src/core/siblings.js';
import type { Space, Store, Updater } from '../../node-core/src/core/store.js';

/** A store whose committed sibling sets pass through `transform` (where the bug lives). */
export function withCommitTransform(inner: Store, transform: (versions: readonly Version[]) => readonly Version[] | undefined, persist = true): Store {
  return {
    read: (key, space) => inner.read(key, space),
    update: <T>(key: Uint8Array, partition: number, f: Updater<T>, space?: Space) =>
      inner.update(
        key,
        partition,
        (cur, tools) => {
          const r = f(cur, tools);
          if (!persist) return { versions: undefined, result: r.result };
          if (r.versions === undefined) return r;
          const changed = transform(r.versions);
          return changed === undefined ? r : { ...r, versions: changed };
        },
        space,
      ),
    scanPartition: (p, after, limit) => inner.scanPartition(p, after, limit),
    scanHints: (target, after, limit) => inner.scanHints(target, after, limit),
    partitionsHeld: () => inner.partitionsHeld(),
    hintCounts: () => inner.hintCounts(),
    reapedClock: (key) => inner.reapedClock(key),
    expireReaped: (before) => inner.expireReaped(before),
    retireActor: (p) => inner.retireActor(p),
    onChange: (l) => inner.onChange(l),
    getMeta: (name) => inner.getMeta(name),
    setMeta: (name, value) => inner.setMeta(name, value),
    stats: () => inner.stats(),
    close: () => inner.close(),
  };
}

/** Node n1 keeps only the newest of several siblings when it commits a merge. */
export function dropSiblingOnN1(nodeId: string, store: Store): Store {
  if (nodeId !== 'n1') return store;
  return withCommitTransform(store, (vs) => (vs.length > 1 ? vs.slice(-1) : undefined));
}

/**
 * Every node compares versions as plain version vectors do: a version is dropped when another
 * has a higher counter of the same actor (the lost update docs/architecture.md describes).
 */
export function plainVersionVectors(_nodeId: string, store: Store): Store {
  return withCommitTransform(store, (vs) => {
    if (vs.length < 2) return undefined;
    return vs.filter((v) => !vs.some((w) => w !== v && w.dot.actor === v.dot.actor && w.dot.counter > v.dot.counter));
  });
}

/** Node n1 acknowledges every update (its coordinated writes included) without writing anything. */
export function n1AcksWithoutWriting(nodeId: string, store: Store): Store {
  if (nodeId !== 'n1') return store;
  return withCommitTransform(store, () => undefined, false);
}
