/**
 * Prints `<label> <count>` on stdout every 50 ms while the count changes, so
 * the parent can sum processes' progress without a line per message.
 * Not a worker module (bench workers are loaded by path, not by name).
 */
export function reportCount(label: string): { add(): void } {
  let count = 0;
  let reported = 0;
  setInterval(() => {
    if (count === reported) return;
    reported = count;
    process.stdout.write(`${label} ${count}\n`);
  }, 50).unref();
  return {
    add() {
      count++;
    },
  };
}
