// The internode transport interface (STYLE 5, memberlist's transport.go): request/response
// between nodes, addressed by "host:port". The TCP implementation multiplexes requests over
// one persistent connection per peer; tests and the simulator can supply their own.
// Bodies are `unknown` here: the transport frames and delivers, the node parses.

/** A handler error with this code sends no reply at all: the asker times out (a lost message). */
export const noReplyCode = 'no_reply';

export type RequestHandler = (body: unknown, from: string) => Promise<unknown>;

export class TransportError extends Error {
  constructor(
    readonly code: 'timeout' | 'unreachable' | 'unauthorized' | 'closed' | 'overloaded' | 'remote' | 'too_large',
    message: string,
  ) {
    super(message);
  }
}

export interface Transport {
  /** The address peers reach this node's internode listener at. */
  readonly address: string;
  /** Resolves with the peer's reply body; rejects with TransportError. Never hangs past timeoutMs. */
  request(to: string, body: unknown, timeoutMs: number): Promise<unknown>;
  setHandler(handler: RequestHandler): void;
  close(): Promise<void>;
}
