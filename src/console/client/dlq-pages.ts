import { api, ApiError, enc, LoginRequired } from './api.ts';
import { summarize, type QueueRow } from './consumers.ts';
import { openPurge, openReplay } from './dlq-actions.ts';
import { filterQuery, groupFilters, type DlqListing, type MessageDetail } from './dlq-types.ts';
import { h, replace } from './dom.ts';
import { formatAbsolute, formatCount, formatRelative, prettyJson } from './format.ts';
import type { Page } from './page.ts';

/** Pages of the dead letters: the DLQs, one DLQ's groups, a selection's messages, one message. */

function when(iso: string | null): HTMLElement {
  if (iso === null) return h('span', { class: 'muted' }, '—');
  const time = Date.parse(iso);
  return h('time', { datetime: iso, title: formatAbsolute(time) }, formatRelative(time, Date.now()));
}

/**
 * Runs a load and shows its failure in `into` (the login form takes over on
 * a refused token). A DLQ is read by one pass at a time (409 `DLQ_BUSY`
 * while another runs — e.g. the page just left is still reading it), so a
 * busy answer is tried again for a while before it is shown.
 */
async function load<T>(into: HTMLElement, run: () => Promise<T>, signal?: AbortSignal): Promise<T | undefined> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await run();
    } catch (failure) {
      if (signal?.aborted === true || failure instanceof LoginRequired) return undefined;
      if (failure instanceof ApiError && failure.code === 'DLQ_BUSY' && attempt < 30) {
        replace(into, h('p', { class: 'muted' }, 'another pass is reading this queue: waiting…'));
        await new Promise((resolve) => setTimeout(resolve, 1_000));
        continue;
      }
      replace(into, h('p', { class: 'error', role: 'alert' }, (failure as Error).message));
      return undefined;
    }
  }
}

/** `#/dlq`: every DLQ of the topology with its depth. */
export function dlqIndexPage(): Page {
  const content = h('div', {}, h('p', { class: 'muted' }, 'loading…'));
  const element = h('section', { 'aria-labelledby': 'dlq-title' }, h('h1', { id: 'dlq-title' }, 'Dead letters'), content);
  return {
    title: 'Dead letters',
    nav: 'dlq',
    element,
    start: () => {
      void load(content, async () => {
        const rows: QueueRow[] = [];
        let offset: number | undefined = 0;
        while (offset !== undefined) {
          const page: { queues: QueueRow[]; nextOffset?: number } = await api(`/v1/queues?offset=${offset}`);
          rows.push(...page.queues);
          offset = page.nextOffset;
        }
        const dlqs = summarize(rows).filter((summary) => summary.dlq !== null);
        replace(
          content,
          h(
            'table',
            { class: 'list' },
            h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Queue'), h('th', { scope: 'col' }, 'Of consumer'), h('th', { scope: 'col', class: 'num' }, 'Messages'))),
            h(
              'tbody',
              {},
              ...dlqs.map((summary) =>
                h(
                  'tr',
                  { class: (summary.dlqDepth ?? 0) > 0 ? 'problem' : '' },
                  h('th', { scope: 'row' }, h('a', { href: `#/dlq/${enc(summary.dlq ?? '')}` }, summary.dlq ?? '')),
                  h('td', {}, summary.name),
                  h('td', { class: 'num' }, formatCount(summary.dlqDepth ?? 0)),
                ),
              ),
            ),
          ),
        );
      });
    },
  };
}

/** `#/dlq/<queue>`: the groups (job type × error), largest first, with their actions. */
export function dlqQueuePage(queue: string): Page {
  const content = h('div', {}, h('p', { class: 'muted' }, 'reading the queue…'));
  let signal: AbortSignal | undefined;
  const refresh = (): void => {
    void load(content, async () => {
      const listing = await api<DlqListing>(`/v1/dlq/${enc(queue)}?limit=0&groupLimit=100`, signal === undefined ? {} : { signal });
      const actions = h(
        'div',
        { class: 'actions' },
        h('button', { type: 'button', onclick: () => openReplay(queue, [], refresh) }, 'Replay…'),
        h('button', { type: 'button', class: 'danger', onclick: () => openPurge(queue, [], refresh) }, 'Purge…'),
        h('a', { href: `#/dlq/${enc(queue)}/messages` }, 'All messages'),
      );
      replace(
        content,
        h('p', {}, h('strong', { 'data-testid': 'dlq-count' }, formatCount(listing.count)), ` messages in ${listing.groupCount === 1 ? '1 group' : `${formatCount(listing.groupCount)} groups`}`),
        actions,
        listing.groups.length === 0
          ? h('p', { class: 'muted' }, 'This DLQ is empty.')
          : h(
              'table',
              { class: 'list groups' },
              h('caption', { class: 'sr-only' }, `Dead letters of ${queue} grouped by job type and error`),
              h('thead', {}, h('tr', {}, h('th', { scope: 'col', class: 'num' }, 'Count'), h('th', { scope: 'col' }, 'Job type'), h('th', { scope: 'col' }, 'Error'), h('th', { scope: 'col' }, 'Actions'))),
              h(
                'tbody',
                {},
                ...listing.groups.map((group) => {
                  const other = group.error.class === '(other)';
                  const filters = groupFilters(group);
                  const name = `${group.jobType ?? 'unknown job type'} / ${group.error.class}`;
                  return h(
                    'tr',
                    { 'data-group': `${group.jobType ?? ''}|${group.error.class}` },
                    h('td', { class: 'num' }, formatCount(group.count)),
                    h('td', {}, group.jobType ?? h('span', { class: 'muted' }, 'unknown')),
                    h('td', { class: 'error-text' }, h('strong', {}, group.error.class), ': ', group.error.message),
                    h(
                      'td',
                      { class: 'row-actions' },
                      other
                        ? h('span', { class: 'muted' }, 'use a filter')
                        : h(
                            'span',
                            {},
                            h('a', { href: `#/dlq/${enc(queue)}/messages?${filterQuery(filters)}`, 'aria-label': `Messages of ${name}` }, 'Messages'),
                            h('button', { type: 'button', 'aria-label': `Replay ${name}…`, onclick: () => openReplay(queue, filters, refresh) }, 'Replay…'),
                            h('button', { type: 'button', class: 'danger', 'aria-label': `Purge ${name}…`, onclick: () => openPurge(queue, filters, refresh) }, 'Purge…'),
                          ),
                    ),
                  );
                }),
              ),
            ),
        listing.nextGroupOffset !== undefined ? h('p', { class: 'muted' }, `Showing the 100 largest of ${formatCount(listing.groupCount)} groups.`) : null,
      );
    }, signal);
  };
  const element = h(
    'section',
    { 'aria-labelledby': 'dlq-queue-title' },
    h('p', { class: 'crumbs' }, h('a', { href: '#/dlq' }, 'Dead letters'), ' / '),
    h('h1', { id: 'dlq-queue-title' }, queue),
    content,
  );
  return {
    title: queue,
    nav: 'dlq',
    element,
    start: (pageSignal) => {
      signal = pageSignal;
      refresh();
    },
  };
}

const PAGE = 20;

/** `#/dlq/<queue>/messages?filter=…&offset=…`: a page of the selected messages. */
export function dlqMessagesPage(queue: string, filters: string[], offset: number): Page {
  const content = h('div', {}, h('p', { class: 'muted' }, 'reading the queue…'));
  const base = `#/dlq/${enc(queue)}/messages?${filterQuery(filters)}`;
  const element = h(
    'section',
    { 'aria-labelledby': 'dlq-messages-title' },
    h('p', { class: 'crumbs' }, h('a', { href: '#/dlq' }, 'Dead letters'), ' / ', h('a', { href: `#/dlq/${enc(queue)}` }, queue), ' /'),
    h('h1', { id: 'dlq-messages-title' }, 'Messages'),
    filters.length > 0 ? h('p', {}, 'Filter: ', ...filters.map((filter) => h('code', { class: 'filter' }, filter))) : null,
    content,
  );
  return {
    title: `${queue} messages`,
    nav: 'dlq',
    element,
    start: (signal) => {
      void load(content, async () => {
        const query = [filterQuery(filters), `limit=${PAGE}`, `offset=${offset}`, 'groupLimit=0'].filter((part) => part !== '').join('&');
        const listing = await api<DlqListing>(`/v1/dlq/${enc(queue)}?${query}`, { signal });
        const total = listing.matched ?? listing.count;
        const first = listing.messages.length === 0 ? 0 : offset + 1;
        replace(
          content,
          h('p', {}, `${formatCount(first)}–${formatCount(offset + listing.messages.length)} of ${formatCount(total)}`),
          h(
            'div',
            { class: 'actions' },
            h('button', { type: 'button', onclick: () => openReplay(queue, filters, () => location.reload()) }, 'Replay these…'),
            h('button', { type: 'button', class: 'danger', onclick: () => openPurge(queue, filters, () => location.reload()) }, 'Purge these…'),
          ),
          h(
            'table',
            { class: 'list messages' },
            h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Id'), h('th', { scope: 'col' }, 'Failed'), h('th', { scope: 'col', class: 'num' }, 'Attempts'), h('th', { scope: 'col' }, 'Error'), h('th', { scope: 'col' }, 'Payload'))),
            h(
              'tbody',
              {},
              ...listing.messages.map((message) =>
                h(
                  'tr',
                  {},
                  h('th', { scope: 'row' }, message.id === null ? h('span', { class: 'muted' }, 'no id') : h('a', { href: `#/dlq/${enc(queue)}/message/${enc(message.id)}` }, message.id)),
                  h('td', {}, when(message.firstFailedAt)),
                  h('td', { class: 'num' }, message.attempts === null ? '—' : formatCount(message.attempts)),
                  h('td', { class: 'error-text' }, h('strong', {}, message.error.class), ': ', message.error.message),
                  h('td', {}, h('code', { class: 'preview' }, message.payloadPreview)),
                ),
              ),
            ),
          ),
          h(
            'nav',
            { class: 'pager', 'aria-label': 'Pages of messages' },
            offset > 0 ? h('a', { href: `${base}&offset=${Math.max(0, offset - PAGE)}` }, '← Previous') : null,
            listing.nextOffset !== undefined ? h('a', { href: `${base}&offset=${listing.nextOffset}` }, 'Next →') : null,
          ),
        );
      }, signal);
    },
  };
}

/** `#/dlq/<queue>/message/<id>`: one message in full. */
export function dlqMessagePage(queue: string, id: string): Page {
  const content = h('div', {}, h('p', { class: 'muted' }, 'reading the queue…'));
  const element = h(
    'section',
    { 'aria-labelledby': 'dlq-message-title' },
    h('p', { class: 'crumbs' }, h('a', { href: '#/dlq' }, 'Dead letters'), ' / ', h('a', { href: `#/dlq/${enc(queue)}` }, queue), ' /'),
    h('h1', { id: 'dlq-message-title' }, id),
    content,
  );
  return {
    title: id,
    nav: 'dlq',
    element,
    start: (signal) => {
      void load(content, async () => {
        const message = await api<MessageDetail>(`/v1/dlq/${enc(queue)}/messages/${enc(id)}`, { signal });
        const facts: Array<[string, Node | string]> = [
          ['Job type', message.jobType ?? '—'],
          ['Error', `${message.error.class}: ${message.error.message}`],
          ['Attempts', message.attempts === null ? '—' : formatCount(message.attempts)],
          ['First failed', when(message.firstFailedAt)],
          ['Dead-lettered', when(message.failedAt)],
          ['Origin', message.origin === null ? '—' : `${message.origin.exchange} / ${message.origin.routingKey}`],
          ['Position in queue', formatCount(message.position + 1)],
          ['Correlation id', message.properties.correlationId ?? '—'],
          ['Content type', message.properties.contentType ?? '—'],
        ];
        const filters = [`id=${id}`];
        const history = message.jobType === null ? null : h('a', { href: `#/job/${enc(message.jobType)}/${enc(id)}` }, 'Job history');
        replace(
          content,
          h('dl', { class: 'facts' }, ...facts.flatMap(([name, value]) => [h('dt', {}, name), h('dd', {}, value)])),
          h(
            'div',
            { class: 'actions' },
            h('button', { type: 'button', onclick: () => openReplay(queue, filters, () => (location.hash = `#/dlq/${enc(queue)}`)) }, 'Replay this message…'),
            h('button', { type: 'button', class: 'danger', onclick: () => openPurge(queue, filters, () => (location.hash = `#/dlq/${enc(queue)}`)) }, 'Purge this message…'),
            history,
          ),
          h('h2', {}, 'Payload', message.payloadTruncated ? h('span', { class: 'muted' }, ` (first 64 KiB of ${formatCount(message.payloadBytes)} bytes)`) : null),
          h('pre', { class: 'code', tabindex: 0, 'aria-label': 'Payload' }, prettyJson(message.payload)),
          ...(typeof message.headers['x-warren-error-stack'] === 'string'
            ? [h('h2', {}, 'Stack'), h('pre', { class: 'code', tabindex: 0, 'aria-label': 'Stack' }, message.headers['x-warren-error-stack'])]
            : []),
          h('h2', {}, 'Headers'),
          h('pre', { class: 'code', tabindex: 0, 'aria-label': 'Headers' }, JSON.stringify(message.headers, null, 2)),
        );
      }, signal);
    },
  };
}
