import { api, ApiError, enc, LoginRequired } from './api.ts';
import type { QueueRow } from './consumers.ts';
import type { PurgeSummary, ReplaySummary } from './dlq-types.ts';
import { h, replace } from './dom.ts';
import { formatCount } from './format.ts';

/**
 * The replay and purge dialogs. Both count first (a dry run over the same
 * routes), then ask to confirm what was counted: changing the selection
 * after the count asks for a new count. A purge also needs the queue's name
 * typed in, which is what the route's `confirm` field carries.
 */

function dialog(title: string, ...content: Node[]): HTMLDialogElement {
  const id = `dialog-${Math.random().toString(36).slice(2)}`;
  const element = h('dialog', { 'aria-labelledby': id }, h('h2', { id }, title), ...content);
  element.addEventListener('close', () => element.remove());
  document.body.append(element);
  element.showModal();
  return element;
}

function field(label: string, input: HTMLInputElement | HTMLTextAreaElement, hint?: string): HTMLElement {
  const id = `f-${Math.random().toString(36).slice(2)}`;
  input.id = id;
  const hintId = `${id}-hint`;
  if (hint !== undefined) input.setAttribute('aria-describedby', hintId);
  return h('div', { class: 'field' }, h('label', { for: id }, label), input, hint === undefined ? null : h('small', { id: hintId, class: 'muted' }, hint));
}

function filtersOf(textarea: HTMLTextAreaElement): string[] {
  return textarea.value
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '');
}

function message(failure: unknown): string {
  if (failure instanceof ApiError) return `${failure.message} (${failure.code})`;
  return (failure as Error).message;
}

/** The DLQ's depth as the management API last saw it: the replay's progress. */
async function depthOf(queue: string): Promise<number | undefined> {
  const page = await api<{ queues: QueueRow[] }>('/v1/queues');
  const row = page.queues.find((candidate) => candidate.name === queue);
  return row === undefined ? undefined : row.messagesReady + row.messagesUnacked;
}

export function openReplay(queue: string, filters: string[], done: () => void): void {
  const filterInput = h('textarea', { rows: 3, spellcheck: false }) as HTMLTextAreaElement;
  filterInput.value = filters.join('\n');
  const rate = h('input', { type: 'number', min: 1, step: 1, inputmode: 'numeric', placeholder: 'as fast as possible' }) as HTMLInputElement;
  const limit = h('input', { type: 'number', min: 1, step: 1, inputmode: 'numeric', placeholder: 'all selected' }) as HTMLInputElement;
  const status = h('div', { class: 'result', role: 'status', 'aria-live': 'polite' }, 'Count the selection first: nothing is replayed by counting.');
  const count = h('button', { type: 'button' }, 'Count (dry run)');
  const confirm = h('button', { type: 'button', class: 'primary', disabled: true }, 'Replay');
  const close = h('button', { type: 'button', class: 'quiet' }, 'Close');
  const progress = h('progress', { max: 1, value: 0, hidden: true, 'aria-label': 'Replay progress' }) as HTMLProgressElement;
  const element = dialog(
    `Replay from ${queue}`,
    field('Filters, one per line (all must match; none = every message)', filterInput, 'jobType=…, error=…, error~=regex, id=…, header.<name>=…'),
    h('div', { class: 'row' }, field('Rate (messages per second)', rate), field('At most', limit)),
    status,
    progress,
    h('div', { class: 'buttons' }, count, confirm, close),
  );
  close.addEventListener('click', () => element.close());
  let counted: string | undefined;
  let countedN = 0;
  const selection = (): { filter: string[]; limit?: number } => ({ filter: filtersOf(filterInput), ...(limit.value !== '' && { limit: Number(limit.value) }) });
  const invalidate = (): void => {
    if (counted !== undefined && counted !== JSON.stringify(selection())) {
      counted = undefined;
      confirm.disabled = true;
      confirm.textContent = 'Replay';
      status.textContent = 'The selection changed: count it again.';
    }
  };
  filterInput.addEventListener('input', invalidate);
  limit.addEventListener('input', invalidate);
  count.addEventListener('click', async () => {
    count.disabled = true;
    status.textContent = 'Counting…';
    try {
      const summary = await api<ReplaySummary>(`/v1/dlq/${enc(queue)}/replay`, { method: 'POST', body: { ...selection(), dryRun: true, listLimit: 10 } });
      counted = JSON.stringify(selection());
      countedN = summary.replayed;
      const target = summary.target.exchange === '' ? `queue ${summary.target.routingKey}` : `exchange ${summary.target.exchange}`;
      replace(
        status,
        h('p', {}, h('strong', { 'data-testid': 'dry-run-count' }, formatCount(summary.replayed)), ` of ${formatCount(summary.scanned)} messages would be replayed to ${target}.`),
        (summary.wouldReplay ?? []).length > 0 ? h('p', { class: 'muted' }, 'First: ', (summary.wouldReplay ?? []).map((item) => item.id ?? '(no id)').join(', ')) : null,
      );
      confirm.disabled = summary.replayed === 0;
      confirm.textContent = `Replay ${formatCount(summary.replayed)} message${summary.replayed === 1 ? '' : 's'}`;
    } catch (failure) {
      if (failure instanceof LoginRequired) return element.close();
      status.textContent = `Could not count: ${message(failure)}`;
    } finally {
      count.disabled = false;
    }
  });
  confirm.addEventListener('click', async () => {
    confirm.disabled = true;
    count.disabled = true;
    filterInput.disabled = true;
    rate.disabled = true;
    limit.disabled = true;
    progress.hidden = false;
    progress.max = Math.max(1, countedN);
    progress.value = 0;
    status.textContent = `Replaying ${formatCount(countedN)} messages…`;
    const start = await depthOf(queue).catch(() => undefined);
    const timer = setInterval(async () => {
      const now = await depthOf(queue).catch(() => undefined);
      if (start !== undefined && now !== undefined) {
        progress.value = Math.min(countedN, Math.max(0, start - now));
        status.textContent = `Replaying… about ${formatCount(progress.value)} of ${formatCount(countedN)} done`;
      }
    }, 1_000);
    try {
      const summary = await api<ReplaySummary>(`/v1/dlq/${enc(queue)}/replay`, {
        method: 'POST',
        body: { ...selection(), dryRun: false, ...(rate.value !== '' && { rate: Number(rate.value) }) },
      });
      progress.value = summary.replayed;
      replace(
        status,
        h(
          'p',
          { 'data-testid': 'replay-result' },
          `Replayed ${formatCount(summary.replayed)}`,
          summary.failed > 0 ? `, ${formatCount(summary.failed)} failed (still in the DLQ)` : '',
          `; ${formatCount(summary.skipped)} not selected; ${(summary.elapsedMs / 1000).toFixed(1)} s.`,
        ),
        summary.error !== undefined ? h('p', { class: 'error' }, `Stopped early: ${summary.error}`) : null,
        summary.failedByReason.length > 0 ? h('ul', {}, ...summary.failedByReason.map((entry) => h('li', {}, `${formatCount(entry.count)} × ${entry.reason}`))) : null,
      );
      close.textContent = 'Done';
      element.addEventListener('close', done);
    } catch (failure) {
      if (failure instanceof LoginRequired) return element.close();
      status.textContent = `Replay failed: ${message(failure)}. Whatever was not replayed is still in the DLQ.`;
    } finally {
      clearInterval(timer);
      close.focus();
    }
  });
}

export function openPurge(queue: string, filters: string[], done: () => void): void {
  const filterInput = h('textarea', { rows: 3, spellcheck: false }) as HTMLTextAreaElement;
  filterInput.value = filters.join('\n');
  const typed = h('input', { type: 'text', autocomplete: 'off', spellcheck: false, disabled: true }) as HTMLInputElement;
  const status = h('div', { class: 'result', role: 'status', 'aria-live': 'polite' }, 'Count the selection first: nothing is deleted by counting.');
  const count = h('button', { type: 'button' }, 'Count (dry run)');
  const confirm = h('button', { type: 'button', class: 'danger', disabled: true }, 'Purge');
  const close = h('button', { type: 'button', class: 'quiet' }, 'Close');
  const element = dialog(
    `Purge from ${queue}`,
    h('p', {}, 'A purge deletes dead letters for good.'),
    field('Filters, one per line (all must match; none = every message)', filterInput),
    status,
    field(`Type the queue name (${queue}) to confirm`, typed),
    h('div', { class: 'buttons' }, count, confirm, close),
  );
  close.addEventListener('click', () => element.close());
  let counted: string | undefined;
  const ready = (): void => {
    confirm.disabled = counted === undefined || counted !== JSON.stringify(filtersOf(filterInput)) || typed.value !== queue;
  };
  filterInput.addEventListener('input', () => {
    if (counted !== undefined && counted !== JSON.stringify(filtersOf(filterInput))) {
      counted = undefined;
      typed.disabled = true;
      status.textContent = 'The selection changed: count it again.';
    }
    ready();
  });
  typed.addEventListener('input', ready);
  count.addEventListener('click', async () => {
    count.disabled = true;
    status.textContent = 'Counting…';
    try {
      const summary = await api<PurgeSummary>(`/v1/dlq/${enc(queue)}/purge`, { method: 'POST', body: { filter: filtersOf(filterInput), dryRun: true, listLimit: 10 } });
      counted = JSON.stringify(filtersOf(filterInput));
      replace(status, h('p', {}, h('strong', { 'data-testid': 'dry-run-count' }, formatCount(summary.purged)), ` of ${formatCount(summary.purged + summary.kept)} messages would be deleted from ${queue}.`));
      confirm.textContent = `Purge ${formatCount(summary.purged)} message${summary.purged === 1 ? '' : 's'} from ${queue}`;
      typed.disabled = summary.purged === 0;
      if (!typed.disabled) typed.focus();
    } catch (failure) {
      if (failure instanceof LoginRequired) return element.close();
      status.textContent = `Could not count: ${message(failure)}`;
    } finally {
      count.disabled = false;
      ready();
    }
  });
  confirm.addEventListener('click', async () => {
    confirm.disabled = true;
    count.disabled = true;
    try {
      const summary = await api<PurgeSummary>(`/v1/dlq/${enc(queue)}/purge`, { method: 'POST', body: { filter: filtersOf(filterInput), confirm: typed.value } });
      replace(
        status,
        h('p', { 'data-testid': 'purge-result' }, `Deleted ${formatCount(summary.purged)}; kept ${formatCount(summary.kept)}.`),
        summary.error !== undefined ? h('p', { class: 'error' }, `Stopped early: ${summary.error}`) : null,
      );
      close.textContent = 'Done';
      element.addEventListener('close', done);
    } catch (failure) {
      if (failure instanceof LoginRequired) return element.close();
      status.textContent = `Purge failed: ${message(failure)}`;
    } finally {
      close.focus();
    }
  });
}
