/**
 * Gathers items into batches: a batch goes out as soon as it holds `size`
 * items, or `maxWaitMs` after its first item arrived, whichever comes first.
 * One timer per forming batch, none per item.
 */
export class BatchCollector<T> {
  private pending: T[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly size: number,
    private readonly maxWaitMs: number,
    private readonly run: (items: T[]) => void,
  ) {}

  add(item: T): void {
    this.pending.push(item);
    if (this.pending.length >= this.size) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), this.maxWaitMs);
  }

  /** Sends what is pending now (used on shutdown: nothing waits out a timer). */
  flush(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    while (this.pending.length > 0) this.run(this.pending.splice(0, this.size));
  }

  get waiting(): number {
    return this.pending.length;
  }
}
