import { api, LoginRequired } from './api.ts';
import { History, METRICS, PROBLEM_TEXT, problemsOf, summarize, type ConsumerSummary, type Metric, type QueueRow } from './consumers.ts';
import { h, replace } from './dom.ts';
import { formatAbsolute, formatCount, formatRate, formatRelative } from './format.ts';
import { sparkline } from './sparkline.ts';
import type { Page } from './page.ts';

const POLL_MS = 2_000;
const WINDOW_MS = 10 * 60_000;

/** Kept across visits to the page, so coming back shows the charts so far. */
const history = new History(WINDOW_MS);

interface Row {
  element: HTMLTableRowElement;
  state: HTMLElement;
  consumers: HTMLElement;
  values: Record<Metric, { text: HTMLElement; chart: HTMLElement }>;
  problems: HTMLElement;
}

const LABELS: Record<Metric, string> = { lag: 'Lag', rateIn: 'Rate in', rateOut: 'Rate out', retries: 'Retries waiting', dlqDepth: 'DLQ depth' };

/** One row per consumer, updated in place every two seconds from `GET /v1/queues`. */
export function overviewPage(): Page {
  const body = h('tbody');
  const updated = h('time', { class: 'updated' }, 'loading…');
  const error = h('p', { class: 'error', role: 'alert', hidden: true });
  const rows = new Map<string, Row>();
  let lastAt = 0;
  const head = h(
    'tr',
    {},
    h('th', { scope: 'col', class: 'name' }, 'Consumer'),
    h('th', { scope: 'col', class: 'state' }, 'State'),
    h('th', { scope: 'col', class: 'num narrow' }, 'Consumers'),
    ...METRICS.map((metric) => h('th', { scope: 'col', class: 'num' }, LABELS[metric])),
    h('th', { scope: 'col', class: 'problems' }, 'Problems'),
  );
  const element = h(
    'section',
    { 'aria-labelledby': 'overview-title' },
    h('div', { class: 'heading' }, h('h1', { id: 'overview-title' }, 'Consumers'), h('span', { class: 'muted' }, 'updated ', updated)),
    error,
    h('table', { class: 'overview' }, h('caption', { class: 'sr-only' }, 'Each consumer: subscription, lag (ready + unacked), rates, retries waiting and DLQ depth, with the last 10 minutes charted'), h('thead', {}, head), body),
    h('p', { class: 'muted note' }, 'Figures come from the RabbitMQ management API, which refreshes them about every 5 s. Lag = ready + unacked in the work queue(s).'),
  );

  const rowFor = (summary: ConsumerSummary): Row => {
    const existing = rows.get(summary.name);
    if (existing) return existing;
    const cell = (metric: Metric) => {
      const text = h('span', { class: 'value' });
      const chart = h('span', { class: 'chart' });
      return { td: h('td', { class: 'num', 'data-metric': metric }, text, chart), text, chart };
    };
    const cells = METRICS.map((metric) => [metric, cell(metric)] as const);
    const state = h('span', { class: 'badge' });
    const consumers = h('span', { class: 'value' });
    const problems = h('span', {});
    const row: Row = {
      element: h(
        'tr',
        { 'data-consumer': summary.name },
        h('th', { scope: 'row', class: 'name' }, summary.name),
        h('td', { class: 'state' }, state),
        h('td', { class: 'num narrow', 'data-metric': 'consumers' }, consumers),
        ...cells.map(([, c]) => c.td),
        h('td', { class: 'problems' }, problems),
      ),
      state,
      consumers,
      values: Object.fromEntries(cells.map(([metric, c]) => [metric, { text: c.text, chart: c.chart }])) as Row['values'],
      problems,
    };
    rows.set(summary.name, row);
    body.append(row.element);
    return row;
  };

  const render = (summaries: ConsumerSummary[], now: number): void => {
    for (const summary of summaries) {
      const row = rowFor(summary);
      const problems = problemsOf(summary, history, now);
      row.element.classList.toggle('problem', problems.length > 0);
      row.state.textContent = summary.missing ? 'missing' : summary.delays ? 'holding' : summary.subscribed ? 'subscribed' : 'not subscribed';
      row.state.className = `badge ${summary.delays && !summary.missing ? '' : summary.subscribed ? 'ok' : 'bad'}`;
      row.consumers.textContent = formatCount(summary.consumers);
      const shown: Record<Metric, string> = {
        lag: formatCount(summary.lag),
        rateIn: formatRate(summary.rateIn),
        rateOut: formatRate(summary.rateOut),
        retries: formatCount(summary.retries),
        dlqDepth: summary.dlqDepth === null ? '—' : formatCount(summary.dlqDepth),
      };
      for (const metric of METRICS) {
        const { text, chart } = row.values[metric];
        if (metric === 'dlqDepth' && summary.dlq !== null) {
          replace(text, h('a', { href: `#/dlq/${encodeURIComponent(summary.dlq)}`, 'aria-label': `${summary.dlq}: ${shown[metric]} dead letters` }, shown[metric]));
        } else text.textContent = shown[metric];
        replace(chart, sparkline(history.series(summary.name, metric), `${LABELS[metric]} of ${summary.name}`, WINDOW_MS, now));
      }
      replace(row.problems, ...problems.map((problem) => h('span', { class: 'tag' }, PROBLEM_TEXT[problem])));
    }
  };

  const tick = (): void => {
    const now = Date.now();
    if (lastAt > 0) {
      updated.textContent = formatRelative(lastAt, now);
      updated.title = formatAbsolute(lastAt);
      updated.dateTime = new Date(lastAt).toISOString();
    }
  };

  const poll = async (signal: AbortSignal): Promise<void> => {
    try {
      const rowsOut: QueueRow[] = [];
      let offset: number | undefined = 0;
      while (offset !== undefined) {
        const page: { queues: QueueRow[]; nextOffset?: number } = await api(`/v1/queues?offset=${offset}`, { signal });
        rowsOut.push(...page.queues);
        offset = page.nextOffset;
      }
      const now = Date.now();
      const summaries = summarize(rowsOut);
      history.add(now, summaries);
      render(summaries, now);
      lastAt = now;
      error.hidden = true;
      tick();
    } catch (failure) {
      if (signal.aborted || failure instanceof LoginRequired) return;
      error.hidden = false;
      error.textContent = `Could not read the queues: ${(failure as Error).message}`;
    }
  };

  return {
    title: 'Overview',
    nav: 'overview',
    element,
    start: (signal) => {
      void poll(signal);
      const timer = setInterval(() => void poll(signal), POLL_MS);
      const clock = setInterval(tick, 1_000);
      signal.addEventListener('abort', () => {
        clearInterval(timer);
        clearInterval(clock);
      });
    },
  };
}
