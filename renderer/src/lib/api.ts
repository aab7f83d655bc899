// The two transports of the console API (issue 6), chosen at start-up, both a ConsoleApi:
// - Electron: the preload exposes `window.gyre` (IPC to the main process);
// - web (`gyre console --web`): Socket.IO to the same origin, namespace /console.
// Either also reports whether the link to the console backend itself is up (`onLink`); the
// cluster's own state comes as the `connection` push.

import type { CallResult, ConsoleApi, ConsoleMethod, ConsoleMethods, ConsolePush, ConsolePushes } from './types';

/** What the Electron preload exposes (contextBridge). */
export interface GyreBridge {
  call(method: string, args: unknown[]): Promise<CallResult<unknown>>;
  on(push: string, listener: (value: unknown) => void): () => void;
}

declare global {
  interface Window {
    gyre?: GyreBridge;
  }
}

export type LinkState = { readonly up: true } | { readonly up: false; readonly reason: string };

export interface Transport extends ConsoleApi {
  readonly kind: 'electron' | 'web';
  /** The link to the console backend (not the cluster): called now and on every change. */
  onLink(listener: (link: LinkState) => void): () => void;
}

export const callTimeoutMs = 30_000;

type Reply = { ok: true; value: unknown } | { ok: false; error: string; message?: string };

function replyError(method: string, reply: unknown): Error {
  if (typeof reply !== 'object' || reply === null) return new Error(`${method}: malformed reply from the console backend`);
  const r = reply as { error?: unknown; message?: unknown };
  const error = typeof r.error === 'string' ? r.error : 'failed';
  const message = typeof r.message === 'string' && r.message !== error ? `: ${r.message}` : '';
  return new Error(`${error}${message}`);
}

function unwrap(method: string, reply: unknown): unknown {
  if (typeof reply === 'object' && reply !== null && (reply as Reply).ok === true) return (reply as { value: unknown }).value;
  throw replyError(method, reply);
}

/** Electron: the preload's bridge. */
export function electronTransport(bridge: GyreBridge): Transport {
  return {
    kind: 'electron',
    async call<M extends ConsoleMethod>(method: M, ...args: ConsoleMethods[M]['args']): Promise<ConsoleMethods[M]['result']> {
      const reply = await bridge.call(method, args);
      return unwrap(method, reply) as ConsoleMethods[M]['result'];
    },
    on<P extends ConsolePush>(push: P, listener: (value: ConsolePushes[P]) => void): () => void {
      return bridge.on(push, listener as (value: unknown) => void);
    },
    onLink(listener) {
      listener({ up: true });
      return () => undefined;
    },
  };
}

const launchSecretKey = 'gyre-console-secret';

/** Web: Socket.IO to the page's own origin (loaded on demand: Electron never needs it). */
export async function webTransport(): Promise<Transport> {
  const { io } = await import('socket.io-client');
  // The launch secret, from the printed URL (?token=) the first time, then from this tab's
  // sessionStorage (this origin's alone); it leaves the address bar at once.
  const given = new URLSearchParams(location.search).get('token');
  if (given) {
    sessionStorage.setItem(launchSecretKey, given);
    history.replaceState(null, '', `${location.pathname}${location.hash}`);
  }
  const token = given ?? sessionStorage.getItem(launchSecretKey);
  const socket = io('/console', { transports: ['websocket'], ...(token ? { auth: { token } } : {}) });
  const linkListeners = new Set<(link: LinkState) => void>();
  const connectionListeners = new Set<(value: ConsolePushes['connection']) => void>();
  let link: LinkState = { up: false, reason: 'connecting to the console backend' };
  const setLink = (l: LinkState) => {
    link = l;
    for (const f of linkListeners) f(l);
  };

  const call = <M extends ConsoleMethod>(method: M, ...args: ConsoleMethods[M]['args']): Promise<ConsoleMethods[M]['result']> =>
    new Promise((resolve, reject) => {
      // Not buffered while disconnected: a kill clicked now must not run minutes later.
      if (!socket.connected) {
        reject(new Error(`${method}: not connected to the console backend`));
        return;
      }
      socket.timeout(callTimeoutMs).emit('call', { method, args }, (err: Error | null, reply: unknown) => {
        if (err) reject(new Error(`${method}: no answer from the console backend within ${callTimeoutMs / 1000} s`));
        else {
          try {
            resolve(unwrap(method, reply) as ConsoleMethods[M]['result']);
          } catch (e) {
            reject(e as Error);
          }
        }
      });
    });

  socket.on('connect', () => {
    setLink({ up: true });
    // The state may have changed while we were away: ask for it.
    call('connection').then(
      (c) => {
        for (const f of connectionListeners) f(c);
      },
      () => undefined,
    );
  });
  socket.on('disconnect', (reason) => setLink({ up: false, reason: `disconnected from the console backend (${reason})` }));
  socket.on('connect_error', (e) => setLink({ up: false, reason: `cannot reach the console backend: ${e.message}` }));

  return {
    kind: 'web',
    call,
    on<P extends ConsolePush>(push: P, listener: (value: ConsolePushes[P]) => void): () => void {
      const f = listener as (value: unknown) => void;
      if (push === 'connection') connectionListeners.add(f as (value: ConsolePushes['connection']) => void);
      socket.on(push as string, f);
      return () => {
        if (push === 'connection') connectionListeners.delete(f as (value: ConsolePushes['connection']) => void);
        socket.off(push as string, f);
      };
    },
    onLink(listener) {
      linkListeners.add(listener);
      listener(link);
      return () => linkListeners.delete(listener);
    },
  };
}

/** Electron's bridge when the preload exposed one, else Socket.IO. */
export function createTransport(): Promise<Transport> {
  const bridge = typeof window !== 'undefined' ? window.gyre : undefined;
  if (bridge && typeof bridge.call === 'function' && typeof bridge.on === 'function') return Promise.resolve(electronTransport(bridge));
  return webTransport();
}
