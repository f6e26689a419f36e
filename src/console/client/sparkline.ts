import { svg } from './dom.ts';

const WIDTH = 96;
const HEIGHT = 22;

/**
 * A small line chart of the last minutes (up to `windowMs`), drawn as inline SVG (no chart
 * library: one polyline is all a table cell needs). Fixed size, so a row
 * never changes height as data comes in; named for screen readers.
 */
export function sparkline(points: ReadonlyArray<{ at: number; value: number }>, label: string, windowMs: number, now: number): SVGElement {
  const max = Math.max(1, ...points.map((point) => point.value));
  // The chart spans what has been seen, at least a minute and at most the window: a page opened a moment ago still draws a line.
  const span = Math.min(windowMs, Math.max(60_000, now - (points[0]?.at ?? now)));
  const x = (at: number): number => WIDTH - ((now - at) / span) * WIDTH;
  const y = (value: number): number => HEIGHT - 1 - (value / max) * (HEIGHT - 2);
  const coords = points.map((point) => `${x(point.at).toFixed(1)},${y(point.value).toFixed(1)}`).join(' ');
  const last = points.at(-1);
  const text = last === undefined ? `${label}: no data yet` : `${label}, last ${Math.round(span / 60_000)} minute${Math.round(span / 60_000) === 1 ? '' : 's'}: now ${formatShort(last.value)}, peak ${formatShort(max === 1 && last.value < 1 ? last.value : max)}`;
  return svg(
    'svg',
    { class: 'spark', width: WIDTH, height: HEIGHT, viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: 'img', 'aria-label': text },
    svg('title', {}, text),
    points.length > 1 ? svg('polyline', { points: coords, fill: 'none', stroke: 'currentColor', 'stroke-width': 1.5, 'vector-effect': 'non-scaling-stroke' }) : null,
  );
}

function formatShort(value: number): string {
  return Number.isInteger(value) ? value.toLocaleString('en-US') : value.toFixed(1);
}
