import { formatDuration } from '../duration.ts';
import type { DelayPath } from './levels.ts';

/** Pure: a delay's path as `warren delay path` prints it, one queue a line. */
export function delayPathText(path: DelayPath, jobType: string, target?: { exchange: string; routingKey: string }): string {
  const lines = [
    `delay ${formatDuration(path.requestedMs)} → ${path.ticks} ticks of 100 ms = ${formatDuration(path.delayMs)} (${spelled(path.delayMs)})`,
    `publish to ${path.exchange}`,
    `routing key ${path.routingKey}`,
    ...path.hops.map(
      (hop) => `  wait in ${hop.queue}  TTL ${spelled(hop.ttlMs).padStart(16)}  leaves at +${spelled(hop.leavesAtMs)}`,
    ),
    `then ${path.landingQueue} (TTL 0) → ${target === undefined ? `the exchange and routing key of job type "${jobType}"` : `exchange ${target.exchange}, routing key ${target.routingKey}`}`,
    `${path.hops.length} delay queue${path.hops.length === 1 ? '' : 's'} on the way`,
  ];
  return `${lines.join('\n')}\n`;
}

/** `1y 2d 03:04:05.600`-style: days and a clock, for delays people read. */
function spelled(ms: number): string {
  const days = Math.floor(ms / 86_400_000);
  const rest = ms % 86_400_000;
  const h = Math.floor(rest / 3_600_000);
  const m = Math.floor((rest % 3_600_000) / 60_000);
  const s = (rest % 60_000) / 1_000;
  const clock = `${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}:${s.toFixed(1).padStart(4, '0')}`;
  return days > 0 ? `${days}d ${clock}` : clock;
}
