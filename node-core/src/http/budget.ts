// A node-wide budget for client HTTP requests: how many are in flight and how many body bytes
// they may bring. A request is admitted or shed when its headers arrive, before its body is
// read, so a flood of large or slow uploads costs a 503 each and never the node's memory.
// The body is reserved at its declared size (Content-Length, or the value limit when the
// length is not declared), so a slow sender holds its share from the start.

/** Client requests being served at once; past this, new ones get 503 `overloaded`. */
export const httpRequestsInFlightMax = 1024;
/** Request-body bytes reserved at once by requests in flight. */
export const httpBodyBytesInFlightMax = 32 * 1024 * 1024;

export type Admission = { readonly ok: true; readonly release: () => void } | { readonly ok: false; readonly message: string };

export class HttpBudget {
  private requests = 0;
  private bodyBytes = 0;
  /** Requests shed since start (gyre_http_shed_total). */
  shed = 0;

  constructor(
    private readonly requestsMax = httpRequestsInFlightMax,
    private readonly bodyBytesMax = httpBodyBytesInFlightMax,
  ) {}

  /** Admits a request that will bring up to `bodyBytes`; `release` must be called once it ended. */
  admit(bodyBytes: number): Admission {
    if (this.requests >= this.requestsMax) return this.refuse(`${this.requestsMax} requests are in flight on this node; retry shortly`);
    // A body larger than the whole budget is still admitted when nothing else holds any: the
    // value limit (413) is what refuses it, not starvation.
    if (bodyBytes > 0 && this.bodyBytes + bodyBytes > this.bodyBytesMax && this.bodyBytes > 0) {
      return this.refuse(`request bodies in flight on this node would exceed ${this.bodyBytesMax} bytes; retry shortly`);
    }
    this.requests++;
    this.bodyBytes += bodyBytes;
    let released = false;
    return {
      ok: true,
      release: () => {
        if (released) return;
        released = true;
        this.requests--;
        this.bodyBytes -= bodyBytes;
      },
    };
  }

  private refuse(message: string): Admission {
    this.shed++;
    return { ok: false, message };
  }

  inFlight(): { requests: number; bodyBytes: number } {
    return { requests: this.requests, bodyBytes: this.bodyBytes };
  }
}
