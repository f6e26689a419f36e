import { api, ApiError, enc, LoginRequired } from './api.ts';
import { h, replace } from './dom.ts';
import { formatAbsolute, formatCount, formatRelative, prettyJson } from './format.ts';
import type { Page } from './page.ts';

/** `GET /v1/jobs/{jobType}/{id}` (src/history/timeline.ts), as far as the page reads it. */
interface Attempt {
  attempt: number;
  startedAt: string;
  finishedAt: string;
  outcome: string;
  deadLetterReason?: string;
  error: { class: string; message: string } | null;
  workerId: string;
  traceId: string | null;
}

interface JobHistory {
  id: string;
  jobType: string | null;
  acceptedAt: string | null;
  correlationId: string | null;
  payloadSize: number | null;
  payload?: unknown;
  traceId: string | null;
  consumers: Array<{ consumer: string; state: string; attempts: Attempt[] }>;
  events: Array<{ kind: string; consumer: string | null; queue: string; at: string }>;
}

function when(iso: string | null): HTMLElement {
  if (iso === null) return h('span', { class: 'muted' }, '—');
  const time = Date.parse(iso);
  return h('time', { datetime: iso, title: formatAbsolute(time) }, formatRelative(time, Date.now()));
}

/** States that need a person: shown red; the rest green or neutral. */
function stateClass(state: string): string {
  if (state === 'succeeded' || state === 'duplicate') return 'badge ok';
  if (state === 'dead-lettered' || state === 'purged') return 'badge bad';
  if (state === 'retried' || state === 'released' || state === 'replayed') return 'badge warn';
  return 'badge';
}

/** The job types the form offers (`GET /v1/jobs`, every page). */
async function jobTypes(signal: AbortSignal): Promise<string[]> {
  const types: string[] = [];
  let offset: number | undefined = 0;
  while (offset !== undefined) {
    const page: { jobs: Array<{ type: string }>; nextOffset?: number } = await api(`/v1/jobs?offset=${offset}`, { signal });
    types.push(...page.jobs.map((job) => job.type));
    offset = page.nextOffset;
  }
  return types;
}

/** `#/job` and `#/job/<jobType>/<id>`: look a job up, and its timeline per consumer from the job history. */
export function jobPage(jobType: string | undefined, id: string | undefined): Page {
  const select = h('select', { id: 'job-type', required: true }) as HTMLSelectElement;
  const input = h('input', { id: 'job-id', type: 'search', required: true, spellcheck: false, autocomplete: 'off', value: id ?? '' }) as HTMLInputElement;
  const form = h(
    'form',
    { class: 'lookup', role: 'search', 'aria-label': 'Look a job up' },
    h('div', { class: 'field' }, h('label', { for: 'job-type' }, 'Job type'), select),
    h('div', { class: 'field grow' }, h('label', { for: 'job-id' }, 'Job id'), input),
    h('button', { type: 'submit', class: 'primary' }, 'Show'),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    location.hash = `#/job/${enc(select.value)}/${enc(input.value.trim())}`;
  });
  const content = h('div', {});
  const element = h('section', { 'aria-labelledby': 'job-title' }, h('h1', { id: 'job-title' }, id === undefined ? 'A job' : `Job ${id}`), form, content);

  const show = (job: JobHistory): void => {
    const facts: Array<[string, Node | string]> = [
      ['Job type', job.jobType ?? '—'],
      ['Accepted', when(job.acceptedAt)],
      ['Trace id', job.traceId === null ? '—' : h('code', { 'data-testid': 'trace-id' }, job.traceId)],
      ['Correlation id', job.correlationId ?? '—'],
      ['Payload size', job.payloadSize === null ? '—' : `${formatCount(job.payloadSize)} bytes`],
    ];
    replace(
      content,
      h('dl', { class: 'facts' }, ...facts.flatMap(([name, value]) => [h('dt', {}, name), h('dd', {}, value)])),
      job.consumers.length === 0 ? h('p', { class: 'muted' }, 'No consumer has recorded an attempt yet.') : null,
      ...job.consumers.map((consumer) =>
        h(
          'section',
          { class: 'timeline', 'data-consumer': consumer.consumer, 'aria-label': `${consumer.consumer}: ${consumer.state}` },
          h('h2', {}, consumer.consumer, ' ', h('span', { class: stateClass(consumer.state) }, consumer.state)),
          consumer.attempts.length === 0
            ? h('p', { class: 'muted' }, 'No attempt recorded.')
            : h(
                'table',
                { class: 'list attempts' },
                h('caption', { class: 'sr-only' }, `Attempts of ${consumer.consumer}`),
                h(
                  'thead',
                  {},
                  h('tr', {}, h('th', { scope: 'col', class: 'num' }, 'Attempt'), h('th', { scope: 'col' }, 'Started'), h('th', { scope: 'col', class: 'num' }, 'Took'), h('th', { scope: 'col' }, 'Outcome'), h('th', { scope: 'col' }, 'Error'), h('th', { scope: 'col' }, 'Worker')),
                ),
                h(
                  'tbody',
                  {},
                  ...consumer.attempts.map((attempt) =>
                    h(
                      'tr',
                      { 'data-outcome': attempt.outcome },
                      h('td', { class: 'num' }, String(attempt.attempt)),
                      h('td', {}, when(attempt.startedAt)),
                      h('td', { class: 'num' }, `${formatCount(Math.max(0, Date.parse(attempt.finishedAt) - Date.parse(attempt.startedAt)))} ms`),
                      h('td', {}, h('span', { class: stateClass(attempt.outcome) }, attempt.outcome), attempt.deadLetterReason === undefined ? null : h('span', { class: 'muted' }, ` (${attempt.deadLetterReason})`)),
                      h('td', { class: 'error-text' }, attempt.error === null ? '—' : [h('strong', {}, attempt.error.class), ': ', attempt.error.message].reduce<HTMLElement>((span, part) => (span.append(part), span), h('span', {}))),
                      h('td', {}, attempt.workerId),
                    ),
                  ),
                ),
              ),
        ),
      ),
      job.events.length === 0
        ? null
        : h(
            'section',
            { 'aria-label': 'DLQ events' },
            h('h2', {}, 'Replays and purges'),
            h('ul', {}, ...job.events.map((event) => h('li', {}, `${event.kind} from ${event.queue}`, event.consumer === null ? '' : ` (${event.consumer})`, ' ', when(event.at)))),
          ),
      job.payload === undefined ? null : [h('h2', {}, 'Payload'), h('pre', { class: 'code', tabindex: 0, 'aria-label': 'Payload' }, prettyJson(JSON.stringify(job.payload)))].reduce<HTMLElement>((div, part) => (div.append(part), div), h('div', {})),
    );
  };

  return {
    title: id === undefined ? 'Job' : `Job ${id}`,
    nav: 'job',
    element,
    start: (signal) => {
      void (async () => {
        try {
          const types = await jobTypes(signal);
          replace(select, ...types.map((type) => h('option', { value: type, selected: type === jobType }, type)));
          if (jobType === undefined || id === undefined) {
            input.focus();
            return;
          }
          replace(content, h('p', { class: 'muted' }, 'reading the history…'));
          show(await api<JobHistory>(`/v1/jobs/${enc(jobType)}/${enc(id)}`, { signal }));
        } catch (failure) {
          if (signal.aborted || failure instanceof LoginRequired) return;
          const text =
            failure instanceof ApiError && failure.code === 'JOB_NOT_FOUND'
              ? 'No history for this job: unknown, older than the retention, or not written yet.'
              : failure instanceof ApiError && failure.code === 'HISTORY_OFF'
                ? 'Job history is off on this producer (set WARREN_HISTORY_URL for the producer and the workers).'
                : (failure as Error).message;
          replace(content, h('p', { class: 'error', role: 'alert' }, text));
        }
      })();
    },
  };
}
