// A structural check of msgpack bytes before they are decoded. msgpackr decodes whatever it is
// given: extension types (dates, records, structured clones), nesting as deep as the bytes
// allow, and arrays of millions of one-byte elements, each of which becomes a JS value many
// times its encoded size. Internode frames come from the network, so they are walked once
// here (no allocation, O(bytes)) and refused unless they have the shape Gyre's messages
// have: bounded depth, a bounded number of elements, no extensions except the one msgpackr
// uses for `undefined`. Written by hand because no maintained library validates msgpack
// structure without decoding it.

/** Nesting of arrays and maps; Gyre's deepest message (writeMany: item, versions, clock, entry) is 7. */
export const msgpackDepthMax = 16;
/**
 * Values in one frame. The largest legitimate frames are handoff and fold batches, bounded at
 * 16 MiB by `siblingsBytes`, which counts 16 bytes per clock event so such a batch stays under
 * this; the decoded form of a frame this size is tens of MB at worst.
 */
export const msgpackElementsMax = 4 * 1024 * 1024;

/** Why the bytes are not an acceptable msgpack value, or undefined. */
export function msgpackProblem(buf: Uint8Array, depthMax = msgpackDepthMax, elementsMax = msgpackElementsMax): string | undefined {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const end = buf.byteLength;
  let at = 0;
  let elements = 0;
  // Values still to read at each open level; the top level holds exactly one value.
  const pending: number[] = [1];
  const need = (n: number): boolean => at + n <= end;
  while (pending.length > 0) {
    if (pending[pending.length - 1] === 0) {
      pending.pop();
      continue;
    }
    pending[pending.length - 1]!--;
    if (++elements > elementsMax) return `more than ${elementsMax} values`;
    if (!need(1)) return 'truncated';
    const b = buf[at++]!;
    let children = 0;
    let skip = 0;
    if (b <= 0x7f || b >= 0xe0 || b === 0xc0 || b === 0xc2 || b === 0xc3) skip = 0;
    else if (b <= 0x8f) children = 2 * (b & 0x0f);
    else if (b <= 0x9f) children = b & 0x0f;
    else if (b <= 0xbf) skip = b & 0x1f;
    else
      switch (b) {
        case 0xc4:
        case 0xd9:
          if (!need(1)) return 'truncated';
          skip = buf[at]!;
          at += 1;
          break;
        case 0xc5:
        case 0xda:
          if (!need(2)) return 'truncated';
          skip = view.getUint16(at);
          at += 2;
          break;
        case 0xc6:
        case 0xdb:
          if (!need(4)) return 'truncated';
          skip = view.getUint32(at);
          at += 4;
          break;
        case 0xca:
          skip = 4;
          break;
        case 0xcb:
          skip = 8;
          break;
        case 0xcc:
        case 0xd0:
          skip = 1;
          break;
        case 0xcd:
        case 0xd1:
          skip = 2;
          break;
        case 0xce:
        case 0xd2:
          skip = 4;
          break;
        case 0xcf:
        case 0xd3:
          skip = 8;
          break;
        case 0xdc:
        case 0xde:
          if (!need(2)) return 'truncated';
          children = view.getUint16(at) * (b === 0xde ? 2 : 1);
          at += 2;
          break;
        case 0xdd:
        case 0xdf:
          if (!need(4)) return 'truncated';
          children = view.getUint32(at) * (b === 0xdf ? 2 : 1);
          at += 4;
          break;
        case 0xd4:
          // fixext 1 of type 0 is how msgpackr writes `undefined`; every other extension is refused.
          if (!need(2) || buf[at] !== 0 || buf[at + 1] !== 0) return 'msgpack extension types are not accepted';
          skip = 2;
          break;
        default:
          return b === 0xc1 ? 'invalid msgpack byte 0xc1' : `msgpack extension type 0x${b.toString(16)} is not accepted`;
      }
    if (!need(skip)) return 'truncated';
    at += skip;
    if (children > 0) {
      // Every value takes at least one byte: a count beyond the bytes left is a lie, refused
      // before anything is allocated for it.
      if (children > end - at) return 'a collection announces more values than the bytes hold';
      if (pending.length > depthMax) return `nested deeper than ${depthMax}`;
      pending.push(children);
    }
  }
  if (at !== end) return 'trailing bytes after the value';
  return undefined;
}
