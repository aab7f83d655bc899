// Byte streams cut into reads, as TCP may deliver them: the parser tests feed these.

/** Cuts `stream` at the given points (taken modulo its length + 1 and sorted; repeats give empty chunks). */
export function chunked(stream: Buffer, cuts: readonly number[]): Buffer[] {
  const at = cuts.map((c) => c % (stream.byteLength + 1)).sort((a, b) => a - b);
  const out: Buffer[] = [];
  let from = 0;
  for (const c of at) {
    out.push(stream.subarray(from, c));
    from = c;
  }
  out.push(stream.subarray(from));
  return out;
}
