import { forgetToken, setToken, token, whenLoginRequired } from './api.ts';
import { dlqIndexPage, dlqMessagePage, dlqMessagesPage, dlqQueuePage } from './dlq-pages.ts';
import { h, replace } from './dom.ts';
import { jobPage } from './job.ts';
import { overviewPage } from './overview.ts';
import type { Page } from './page.ts';

/**
 * The console: a hash router over the pages and a login form. Nothing is
 * shown before a token is given; a refused token (401/403 from any call)
 * brings the form back and shows nothing else.
 */
const main = document.getElementById('main') as HTMLElement;
const logout = document.getElementById('logout') as HTMLButtonElement;
let running: AbortController | undefined;

function route(hash: string): Page {
  const [path = '', query = ''] = hash.replace(/^#/, '').split('?');
  const parts = path.split('/').filter((part) => part !== '').map(decodeURIComponent);
  const params = new URLSearchParams(query);
  if (parts[0] === 'job') return jobPage(parts[1], parts[2]);
  if (parts[0] === 'dlq') {
    const queue = parts[1];
    if (queue === undefined) return dlqIndexPage();
    if (parts[2] === 'messages') return dlqMessagesPage(queue, params.getAll('filter'), Number(params.get('offset') ?? '0') || 0);
    if (parts[2] === 'message' && parts[3] !== undefined) return dlqMessagePage(queue, parts[3]);
    return dlqQueuePage(queue);
  }
  return overviewPage();
}

function show(): void {
  running?.abort();
  if (token() === null) {
    login();
    return;
  }
  logout.hidden = false;
  const page = route(location.hash);
  document.title = `${page.title} · warren console`;
  for (const link of document.querySelectorAll<HTMLAnchorElement>('[data-nav]')) {
    if (link.dataset['nav'] === page.nav) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  replace(main, page.element);
  running = new AbortController();
  page.start?.(running.signal);
}

function login(reason?: string): void {
  running?.abort();
  running = undefined;
  for (const dialog of document.querySelectorAll('dialog')) dialog.close();
  logout.hidden = true;
  document.title = 'Sign in · warren console';
  const input = h('input', { id: 'token', type: 'password', autocomplete: 'off', required: true, spellcheck: false }) as HTMLInputElement;
  const form = h(
    'form',
    { class: 'login', 'aria-labelledby': 'login-title' },
    h('h1', { id: 'login-title' }, 'Sign in'),
    reason === undefined ? null : h('p', { class: 'error', role: 'alert' }, reason),
    h('p', {}, "Paste an admin token (one of WARREN_API_TOKENS with the admin scope). It is kept in this tab's session storage only, and sent with each request as a bearer token."),
    h('label', { for: 'token' }, 'Admin token'),
    input,
    h('button', { type: 'submit', class: 'primary' }, 'Sign in'),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    setToken(input.value.trim());
    show();
  });
  replace(main, form);
  input.focus();
}

whenLoginRequired((reason) => login(reason));
logout.addEventListener('click', () => {
  forgetToken();
  login();
});
window.addEventListener('hashchange', () => {
  show();
  main.focus();
});
show();
