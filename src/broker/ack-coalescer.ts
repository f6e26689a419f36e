/**
 * Which acks to send for one channel: pure bookkeeping, no I/O.
 *
 * A `basic.ack` with `multiple` acks every unacked delivery of the channel
 * up to its tag. So it may only cover a contiguous run of deliveries that
 * are all settled as done: a delivery still running, or one about to be
 * nacked, must never fall under it. Deliveries are tracked in the order the
 * broker numbered them; a flush acks the settled run at the front with one
 * `multiple` ack and every other settled delivery on its own, so no ack
 * ever waits behind a slow job.
 */
export interface AckPlan {
  /** One `ack(multiple: true)` with this tag, covering every outstanding tag up to it. */
  upTo: number | undefined;
  /** Single acks, for settled deliveries behind one not settled yet. */
  singles: number[];
}

export class AckCoalescer {
  /** Outstanding delivery tags (insertion = broker order) → ready to ack. */
  private readonly outstanding = new Map<number, boolean>();
  private lastTag = 0;

  /** A delivery arrived; tags on one channel only ever grow. */
  received(tag: number): void {
    if (tag <= this.lastTag) throw new RangeError(`delivery tag ${tag} after ${this.lastTag}: tags must grow`);
    this.lastTag = tag;
    this.outstanding.set(tag, false);
  }

  /** Its handler and idempotency record succeeded (or its copy is confirmed): it may be acked. */
  ready(tag: number): void {
    if (this.outstanding.has(tag)) this.outstanding.set(tag, true);
  }

  /** It is nacked (or rejected) right now, on its own: it leaves the outstanding set. */
  removed(tag: number): void {
    this.outstanding.delete(tag);
  }

  get pending(): number {
    return this.outstanding.size;
  }

  /** The acks to send now; what they cover stops being outstanding. */
  flush(): AckPlan {
    let upTo: number | undefined;
    const singles: number[] = [];
    let inFront = true;
    for (const [tag, ready] of this.outstanding) {
      if (!ready) {
        inFront = false;
        continue;
      }
      if (inFront) upTo = tag;
      else singles.push(tag);
    }
    for (const [tag, ready] of this.outstanding) if (ready) this.outstanding.delete(tag);
    return { upTo, singles };
  }
}
