import { takeSnapshot, type Snapshot, type SnapshotSource } from './snapshot.ts';
import { renderJsonLine, renderStreamTable, renderTable, renderTitle, viewRows, type ViewFlags } from './view.ts';

export interface LiveViewOptions extends ViewFlags {
  /** Redraw a table in place (a terminal) or print one JSON line per reading. */
  tty: boolean;
  /** @defaultValue 1 s on a terminal, 5 s otherwise */
  intervalMs?: number;
  write: (text: string) => void;
}

/** Reads and shows the consumers (and the stream groups' lag) until `stop()`; a reading never overlaps the previous one. */
export function startLiveView(source: SnapshotSource, options: LiveViewOptions): { stop(): void } {
  let previous: Snapshot | undefined;
  let drawnLines = 0;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const tick = async () => {
    const snapshot = await takeSnapshot(source).catch(() => undefined);
    if (stopped || snapshot === undefined) return schedule();
    const rows = viewRows(snapshot, previous);
    previous = snapshot;
    if (options.tty) {
      const streams = snapshot.streams === undefined ? [] : ['', ...renderStreamTable(snapshot.streams)];
      const lines = [renderTitle(snapshot.at, options), ...renderTable(rows), ...streams];
      // Move up over the previous drawing and clear it, then draw again.
      const rewind = drawnLines > 0 ? `\x1b[${drawnLines}F\x1b[J` : '';
      options.write(`${rewind}${lines.join('\n')}\n`);
      drawnLines = lines.length;
    } else {
      options.write(`${renderJsonLine(snapshot.at, rows, options, snapshot.streams)}\n`);
    }
    schedule();
  };
  const schedule = () => {
    if (!stopped) timer = setTimeout(() => void tick(), options.intervalMs ?? (options.tty ? 1_000 : 5_000));
  };
  void tick();
  return {
    stop: () => {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
