// What `gyre bench` asks for: the YCSB core workloads' read/update mixes, uniform or zipfian key
// choice, and a seeded random source, so two runs of one command issue the same operations.
// Pure: no sockets, no clocks.

export type WorkloadName = 'a' | 'b' | 'c' | 'write';

/** YCSB core workloads (Cooper et al., SoCC 2010): A update-heavy, B read-mostly, C read-only; plus write-only. */
export const workloads: Readonly<Record<WorkloadName, { readonly readFraction: number; readonly title: string }>> = {
  a: { readFraction: 0.5, title: 'A: 50% reads, 50% updates' },
  b: { readFraction: 0.95, title: 'B: 95% reads, 5% updates' },
  c: { readFraction: 1, title: 'C: reads only' },
  write: { readFraction: 0, title: 'write only' },
};

export function isWorkload(name: string): name is WorkloadName {
  return Object.hasOwn(workloads, name);
}

/** mulberry32: a small, fast, seeded generator (the bench's operations, not security). */
export class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  below(n: number): number {
    return Math.floor(this.next() * n);
  }
}

/** YCSB's request distribution constant: a few keys are very hot. */
export const zipfianConstant = 0.99;

/**
 * YCSB's ZipfianGenerator (Gray et al., "Quickly generating billion-record synthetic
 * databases", SIGMOD 1994), scrambled as YCSB's ScrambledZipfian does so the hot keys are
 * spread over the key space (and so over the ring), not the first few.
 */
export class Zipfian {
  private readonly zetan: number;
  private readonly alpha: number;
  private readonly eta: number;
  private readonly half: number;

  constructor(
    private readonly items: number,
    private readonly theta = zipfianConstant,
  ) {
    let zetan = 0;
    for (let i = 1; i <= items; i++) zetan += 1 / Math.pow(i, theta);
    this.zetan = zetan;
    const zeta2 = 1 + 1 / Math.pow(2, theta);
    this.alpha = 1 / (1 - theta);
    this.eta = (1 - Math.pow(2 / items, 1 - theta)) / (1 - zeta2 / zetan);
    this.half = 1 + Math.pow(0.5, theta);
  }

  /** An item in [0, items): rank drawn from the distribution, then scrambled. */
  next(rng: Rng): number {
    const u = rng.next();
    const uz = u * this.zetan;
    let rank: number;
    if (uz < 1) rank = 0;
    else if (uz < this.half) rank = 1;
    else rank = Math.floor(this.items * Math.pow(this.eta * u - this.eta + 1, this.alpha));
    return fnv1a32(Math.min(rank, this.items - 1)) % this.items;
  }
}

/** FNV-1a of a number's four bytes: YCSB scrambles ranks with an FNV hash. */
function fnv1a32(n: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < 4; i++) {
    h ^= (n >>> (i * 8)) & 0xff;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

export type KeyDistribution = 'uniform' | 'zipfian';

/** Draws key indexes in [0, keys) as the distribution says. */
export function keyChooser(distribution: KeyDistribution, keys: number): (rng: Rng) => number {
  if (distribution === 'uniform') return (rng) => rng.below(keys);
  const z = new Zipfian(keys);
  return (rng) => z.next(rng);
}

/** Keys as redis-benchmark names them with -r: `key:` and twelve digits. */
export function keyName(i: number): string {
  return `key:${String(i).padStart(12, '0')}`;
}
