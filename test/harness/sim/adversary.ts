// An adversary inside the simulation (issue 9): a client that sends forged contexts and
// garbage writes, and a misbehaving member that sends hostile internode messages. Every one of
// them must be refused (or, for the few a member may legitimately send, must do no harm the
// checker can see). Whatever gets through is a finding, reported as a violation of rule
// `hostile`. The adversary writes only keys of its own (`adv-*`), so the checker's judgement of
// the honest clients' history is untouched, and honest keys stay what the workload made them.

import { encodeContext } from '../../../node-core/src/core/context.js';
import { counterMax, timestampMsMax } from '../../../node-core/src/core/codec.js';
import { sleep } from '../../../node-core/src/core/env.js';
import { packState } from '../../../node-core/src/net/messages.js';
import { gossipCounterLimit } from '../../../node-core/src/core/gossip.js';
import type { VClock } from '../../../node-core/src/core/vclock.js';
import { adversaryKeyPrefix } from '../../../node-core/src/verify/checker.js';
import type { SimCluster } from './cluster.js';
import { simEnv } from './env.js';
import { SimTransport } from './network.js';
import type { Rng } from './random.js';

export interface AdversaryOptions {
  readonly startMs: number;
  readonly stopMs: number;
  readonly thinkMinMs: number;
  readonly thinkMaxMs: number;
  readonly clientTimeoutMs: number;
}

// Not here: a well-formed state that marks another member leaving with a higher version. It
// parses, so it is taken; the victim says again what it is (reassertSelf), but a forger that
// keeps at it can leave a member that has since left looking `leaving` for good. Gossip
// records carry no author, so only authenticated authorship would stop a member that lies
// (see docs/limits.md, "What a member can still do").
const attacks = ['forged-context', 'foreign-context', 'garbage-write', 'overflow-clock', 'wide-clock', 'hostile-gossip', 'stranger-owner', 'long-pause', 'bad-write', 'big-batch'] as const;
type Attack = (typeof attacks)[number];

export class Adversary {
  readonly findings: string[] = [];
  readonly tried = new Map<Attack, number>();
  private readonly transport: SimTransport;
  private nextKey = 0;

  constructor(
    private readonly cluster: SimCluster,
    private readonly rng: Rng,
    private readonly opts: AdversaryOptions,
  ) {
    this.transport = new SimTransport(cluster.net, 'mallory', 'mallory:7000', 1, simEnv(cluster.scheduler, rng.fork('net'), 'mallory'));
  }

  private get now(): number {
    return this.cluster.scheduler.now;
  }

  private pickNode(): string | undefined {
    const up = this.cluster.ids.filter((id) => this.cluster.isRunning(id) && !this.cluster.isPaused(id));
    return up.length === 0 ? undefined : this.rng.pick(up);
  }

  private found(attack: Attack, what: string): void {
    if (this.findings.length < 50) this.findings.push(`${this.now} ${attack}: ${what}`);
  }

  async run(): Promise<void> {
    const env = simEnv(this.cluster.scheduler, this.rng, 'mallory think');
    await sleep(env, Math.max(0, this.opts.startMs - this.now));
    while (this.now < this.opts.stopMs) {
      const attack = this.rng.pick(attacks);
      const node = this.pickNode();
      if (node !== undefined) {
        this.tried.set(attack, (this.tried.get(attack) ?? 0) + 1);
        await this.attack(attack, node);
      }
      await sleep(env, this.opts.thinkMinMs + this.rng.int(this.opts.thinkMaxMs - this.opts.thinkMinMs + 1));
    }
  }

  private key(): Buffer {
    return Buffer.from(`${adversaryKeyPrefix}${this.nextKey++ % 8}`);
  }

  private async attack(attack: Attack, node: string): Promise<void> {
    switch (attack) {
      case 'forged-context':
      case 'foreign-context': {
        const key = this.key();
        const other = Buffer.from(`${key.toString()}-other`);
        const verdict = await this.cluster.call(
          node,
          `mallory ${attack}`,
          async (g) => {
            const sealed = encodeContext({ entries: [{ actor: `${g.config.id}.zz`, counter: 5, ts: 1000 }], dots: [] }, other, g.contextKeys());
            const raw = Buffer.from(sealed, 'base64url');
            const tokens =
              attack === 'foreign-context'
                ? [sealed] // a real context, of another key
                : [
                    Buffer.from(this.rng.pick(['x', 'forged', 'AAAA'])).toString('base64url'),
                    Buffer.concat([Buffer.from([2, 0xde, 0xad, 0xbe, 0xef]), raw.subarray(5)]).toString('base64url'), // a made-up key id
                    (() => {
                      const c = Buffer.from(raw);
                      const i = this.rng.int(c.byteLength);
                      c[i] = c[i]! ^ (1 + this.rng.int(255));
                      return c.toString('base64url');
                    })(),
                  ];
            const accepted: string[] = [];
            for (const t of tokens) if ((await g.checkContext(t, key)).ok) accepted.push(t);
            return accepted;
          },
          this.opts.clientTimeoutMs,
        );
        if (verdict.ok && verdict.value.length > 0) this.found(attack, `${node} accepted ${verdict.value.length} forged context(s) for ${key.toString()}`);
        return;
      }
      case 'garbage-write':
      case 'overflow-clock':
      case 'wide-clock': {
        // A direct coordinator call stands for a client holding a leaked context key, or a bug
        // above the store: the invariant at the disk must refuse what could not be read back.
        const key = this.key();
        const young = Math.min(this.now, timestampMsMax);
        const context: VClock =
          attack === 'wide-clock'
            ? { entries: Array.from({ length: 256 }, (_, i) => ({ actor: `m${String(i).padStart(3, '0')}.x`, counter: 1, ts: young })), dots: [] }
            : attack === 'overflow-clock'
              ? { entries: this.cluster.ids.map((id) => ({ actor: id, counter: counterMax, ts: young })).sort((a, b) => (a.actor < b.actor ? -1 : 1)), dots: [] }
              : { entries: [], dots: [] };
        const payload =
          attack === 'garbage-write'
            ? this.rng.pick([
                { deleted: false, contentType: 'x'.repeat(300), value: Buffer.from('v') },
                { deleted: false, contentType: 'text/plain', value: Buffer.alloc(1024 * 1024 + 1) },
              ])
            : { deleted: false, contentType: 'text/plain', value: Buffer.from('adversary') };
        const fresh = Buffer.from(`${adversaryKeyPrefix}fresh-${this.nextKey++}`);
        const target = attack === 'wide-clock' ? fresh : key;
        const out = await this.cluster.call(node, `mallory ${attack}`, (g) => g.coordinator.put({ key: target, payload, context, w: 1, timeoutMs: 1000 }), this.opts.clientTimeoutMs);
        // Overflow: refused by whichever coordinator's own actor the clock names at the limit;
        // a coordinator whose actor is another (a tenure actor) writes a storable version.
        if (out.ok && out.value.status === 204 && attack !== 'overflow-clock') this.found(attack, `${node} acknowledged a write it cannot have stored (${target.toString()})`);
        return;
      }
      case 'hostile-gossip':
      case 'stranger-owner':
      case 'long-pause':
      case 'bad-write':
      case 'big-batch':
        return this.member(attack, node);
    }
  }

  /** Hostile internode messages, as a member (or anyone who can reach the port) could send. */
  private async member(attack: Attack, node: string): Promise<void> {
    const g = this.cluster.gyre(node);
    if (!g) return;
    const state = g.clusterState();
    const raw = packState(state) as unknown[];
    const members = raw[2] as unknown[][];
    const victim = members[this.rng.int(members.length)]!;
    let body: unknown;
    switch (attack) {
      case 'hostile-gossip':
        victim[5] = this.rng.pick([gossipCounterLimit + 1, Number.MAX_SAFE_INTEGER, -1, 1.5]);
        body = ['gossip', raw, null];
        break;
      case 'stranger-owner':
        (raw[3] as unknown[][])[this.rng.int(state.partitions)]![this.rng.pick([0, 2])] = 'mallory';
        body = ['gossip', raw, null];
        break;
      case 'long-pause':
        body = ['faults', [[['mallory-pause', { kind: 'pause', node }, 0, this.rng.pick([120_001, 24 * 3600_000, null])]], []]];
        break;
      case 'bad-write':
        body = ['write', Buffer.from(`${adversaryKeyPrefix}bad`), 0, [[['mallory.x', this.rng.pick([Number.MAX_SAFE_INTEGER, counterMax + 1]), 0], [['mallory.x', 1, 0]], [], false, 'text/plain', Buffer.from('x')]], null, false];
        break;
      case 'big-batch':
        body = ['writeMany', Array.from({ length: 513 }, (_, i) => [Buffer.from(`${adversaryKeyPrefix}batch-${i}`), 0, [], null])];
        break;
    }
    const address = g.self.internode;
    try {
      await this.transport.request(address, body, 1000);
      this.found(attack, `${node} took a hostile ${attack} message`);
    } catch {
      // Refused (or lost): as it should be.
    }
  }
}
