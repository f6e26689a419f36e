/**
 * Deadlines that all share one `timeoutMs` (a consumer's handler timeout,
 * a publisher's confirm timeout) in one structure with one timer: they
 * expire in the order they started, so a Set (insertion-ordered, O(1)
 * delete) is the whole queue, and only its head needs a timer. A timer per
 * job or publish costs a timer-list insert and a clear each, measurable at
 * thousands per second.
 */
export interface Deadline {
  /** Called once, when the deadline passes or everything is expired at once. */
  readonly expire: (reason: Error) => void;
  readonly at: number;
}

export class DeadlineQueue {
  private readonly entries = new Set<Deadline>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly timeoutMs: number,
    private readonly reason: () => Error,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Starts a deadline; `done` it when the job finishes first. */
  start(expire: (reason: Error) => void): Deadline {
    const deadline: Deadline = { expire, at: this.now() + this.timeoutMs };
    this.entries.add(deadline);
    if (this.timer === undefined) this.arm(deadline.at);
    return deadline;
  }

  done(deadline: Deadline): void {
    this.entries.delete(deadline);
    // The timer stays armed for the old head; it re-arms for the new head when it fires.
    if (this.entries.size === 0) this.disarm();
  }

  /** Expires every running deadline now (the shutdown deadline passed). */
  expireAll(reason: Error): void {
    const all = [...this.entries];
    this.entries.clear();
    this.disarm();
    for (const deadline of all) deadline.expire(reason);
  }

  get size(): number {
    return this.entries.size;
  }

  private arm(at: number): void {
    this.timer = setTimeout(() => this.fire(), Math.max(0, at - this.now()));
    this.timer.unref?.();
  }

  private disarm(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private fire(): void {
    this.timer = undefined;
    const now = this.now();
    for (const deadline of this.entries) {
      if (deadline.at > now) {
        this.arm(deadline.at);
        return;
      }
      this.entries.delete(deadline);
      deadline.expire(this.reason());
    }
  }
}
