/**
 * A read of broker state for a metrics scrape, made at most once per
 * `minIntervalMs` (scrapes in between share the last answer), shared by
 * concurrent scrapes, and bounded in time: a read slower than `timeoutMs`
 * fails the poll, so a slow broker never holds `/metrics` longer than that.
 */

export interface PollOptions {
  /** Scrapes within this long of the last poll reuse its answer. */
  minIntervalMs?: number;
  /** A read slower than this fails the poll. */
  timeoutMs?: number;
  /** @defaultValue `Date.now` */
  now?: () => number;
  /** Told of each failed poll. */
  onFailure?: (error: unknown) => void;
}

/** A poll's answer: the read's fields on success; only the time on failure (no stale value is passed on as current). */
export type Polled<T extends object> = ({ ok: true; at: number } & T) | { ok: false; at: number };

export class BoundedPoll<T extends object> {
  private last: Polled<T> | undefined;
  private pending: Promise<Polled<T>> | undefined;
  private readonly minIntervalMs: number;
  private readonly timeoutMs: number;
  protected readonly now: () => number;
  private readonly onFailure: (error: unknown) => void;

  constructor(
    private readonly read: () => Promise<T>,
    /** What is read, for the timeout's message ("management API"). */
    private readonly what: string,
    options: PollOptions & { minIntervalMs: number; timeoutMs: number },
  ) {
    this.minIntervalMs = options.minIntervalMs;
    this.timeoutMs = options.timeoutMs;
    this.now = options.now ?? Date.now;
    this.onFailure = options.onFailure ?? (() => undefined);
  }

  snapshot(): Promise<Polled<T>> {
    if (this.pending !== undefined) return this.pending;
    if (this.last !== undefined && this.now() - this.last.at < this.minIntervalMs) return Promise.resolve(this.last);
    const pending = this.poll().finally(() => {
      this.pending = undefined;
    });
    this.pending = pending;
    return pending;
  }

  private async poll(): Promise<Polled<T>> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${this.what} slower than ${this.timeoutMs} ms`)), this.timeoutMs);
    });
    let answer: Polled<T>;
    try {
      const value = await Promise.race([this.read(), timeout]);
      answer = { ...value, ok: true, at: this.now() };
    } catch (error) {
      this.onFailure(error);
      answer = { ok: false, at: this.now() };
    } finally {
      clearTimeout(timer);
    }
    this.last = answer;
    return answer;
  }
}
