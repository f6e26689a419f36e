/** How both demos (queues, streams) talk while they run, and notice a Ctrl-C. */

/** On a terminal, one line rewritten in place; otherwise a line every 3 s (and the final one). */
export function progressLine(options: { tty: boolean; say: (line: string) => void }): (text: string, final?: boolean) => void {
  let last = 0;
  return (text, final = false) => {
    if (options.tty) {
      process.stderr.write(`\r\x1b[K${text}${final ? '\n' : ''}`);
      return;
    }
    if (final || Date.now() - last >= 3_000) {
      last = Date.now();
      options.say(text);
    }
  };
}

/** Ctrl-C during the demo ends the wait early; the demo still cleans up and reports. */
export function interruption(): { happened: boolean; dispose(): void } {
  const state = {
    happened: false,
    dispose: () => {
      process.removeListener('SIGINT', onSignal);
      process.removeListener('SIGTERM', onSignal);
    },
  };
  const onSignal = () => {
    state.happened = true;
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return state;
}
