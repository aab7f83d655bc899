// One version of a key as the client library hands it out (its own module: client.ts and
// resolvers.ts both speak of it).

import type { Buffer } from 'buffer';

export interface Sibling {
  readonly value: Buffer;
  readonly contentType: string;
  readonly deleted: boolean;
  /** When its coordinator wrote it (ms since the epoch, that node's clock); absent from older nodes. */
  readonly lastModified?: number;
}
