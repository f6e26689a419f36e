/**
 * Runs tasks with the same key strictly one after another, in the order
 * they were submitted; tasks with different keys run independently. This is
 * what keeps per-key order with prefetch > 1.
 */
export class KeySerializer {
  private readonly tails = new Map<string, Promise<void>>();

  /** Keys with a task queued or running. */
  get size(): number {
    return this.tails.size;
  }

  run(key: string, task: () => Promise<void>): Promise<void> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    // A failed task must not stop the ones behind it: they run regardless.
    const current = previous.then(task, task);
    const tail = current.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return current;
  }
}
