// @ts-check
// The sessions list: its state (mirrored in the address), the table, the count and the pager.
// Which statuses and sorts exist is the <select>s' business (they list what the server
// accepts); how many rows a page has is the server's (the list answer's `pageSize`).

import { isAbort, listSessions } from './api.js';
import { byId, defaultValue, h, optionValues } from './dom.js';
import { badge, numberFmt, parseDate, relative, timeEl } from './format.js';
import { fillLocation } from './geo.js';
import { clearError, showError } from './notify.js';
import { loadStats } from './stats.js';

/** @typedef {import('./api.js').Session} Session */

const total = byId('total-count', HTMLElement);
const totalLabel = byId('total-label', HTMLElement);
const search = byId('search-input', HTMLInputElement);
const statusSelect = byId('status-filter', HTMLSelectElement);
const sortSelect = byId('sort-select', HTMLSelectElement);
const table = byId('sessions-table', HTMLTableElement);
const body = byId('sessions-body', HTMLTableSectionElement);
const prev = byId('prev-page', HTMLButtonElement);
const next = byId('next-page', HTMLButtonElement);
const pageInfo = byId('page-info', HTMLElement);

const DEFAULT_STATUS = defaultValue(statusSelect);
const DEFAULT_SORT = defaultValue(sortSelect);

/**
 * @typedef {object} ListState
 * @property {number} page
 * @property {number} pageSize rows per page, as the server last answered (0 before that)
 * @property {string} search
 * @property {string} status a value of the status <select>
 * @property {string} sort a value of the sort <select>: `field:order`
 * @property {number} total
 * @property {boolean} totalExact
 * @property {Session[]} sessions the rows on the page
 */

/** @type {ListState} */
export const state = {
  page: 1, pageSize: 0, search: '', status: DEFAULT_STATUS, sort: DEFAULT_SORT,
  total: 0, totalExact: true, sessions: [],
};

/** @type {AbortController | null} */
let listAbort = null;

/**
 * @param {string} label the column's name, shown above the value on narrow screens
 * @param {...(Node | string | null | undefined)} children
 * @returns {HTMLTableCellElement}
 */
function cell(label, ...children) {
  return h('td', { 'data-label': label }, h('div', null, ...children));
}

/**
 * @param {Session} s
 * @returns {HTMLTableRowElement}
 */
function renderRow(s) {
  const user = s.user;
  const loc = h('span', { class: 'loc', 'data-testid': 'location' });
  fillLocation(loc, s);
  return h('tr', { 'data-testid': 'session-row', 'data-session-id': s.id },
    cell('Session', h('span', { class: 'sid', title: s.id, text: s.id })),
    cell('User',
      h('span', { class: 'user-name', text: user.name || '(no name)' }),
      h('span', { class: 'user-email', text: user.email || '' })),
    cell('IP / location',
      h('span', { class: 'ip', text: s.ipAddress || '—' }),
      loc),
    cell('Status', badge(s.status)),
    cell('Expires', timeEl(s.expiresAt)),
    h('td', { class: 'actions' },
      h('button', { type: 'button', class: 'btn btn-small', 'data-testid': 'view-button', 'data-action': 'view', 'aria-haspopup': 'dialog', text: 'View' }),
      h('button', { type: 'button', class: 'btn btn-small btn-link-danger', 'data-testid': 'delete-button', 'data-action': 'delete', text: 'Delete' })));
}

/**
 * @param {string} text
 * @returns {HTMLTableRowElement}
 */
function placeholder(text) {
  return h('tr', { class: 'placeholder' }, h('td', { colspan: '6', text }));
}

function filtered() {
  return Boolean(state.search) || state.status !== DEFAULT_STATUS;
}

function pageCount() {
  return state.pageSize > 0 ? Math.max(1, Math.ceil(state.total / state.pageSize)) : 1;
}

function renderMeta() {
  // Past the server's count limit the total is a lower bound: "10,000+".
  const more = state.totalExact ? '' : '+';
  total.textContent = numberFmt.format(state.total) + more;
  totalLabel.textContent = (state.total === 1 ? 'session' : 'sessions') + (filtered() ? ' matching' : '');
  pageInfo.textContent = `Page ${state.page} of ${pageCount()}${more}`;
  prev.disabled = state.page <= 1;
  next.disabled = state.totalExact ? state.page >= pageCount() : state.sessions.length < state.pageSize;
}

function render() {
  // Keep keyboard focus on the same row and button across re-renders.
  const active = document.activeElement;
  const row = active?.closest('tr[data-session-id]');
  const keep = active instanceof HTMLElement && row instanceof HTMLElement && body.contains(row)
    ? { id: row.dataset.sessionId ?? '', action: active.dataset.action }
    : null;

  body.replaceChildren(...(state.sessions.length
    ? state.sessions.map(renderRow)
    : [placeholder(filtered() ? 'No sessions match these filters.' : 'No sessions yet.')]));
  renderMeta();

  if (keep) {
    const btn = rowFor(keep.id)?.querySelector(`[data-action="${keep.action}"]`);
    if (btn instanceof HTMLElement) btn.focus(); else table.focus();
  }
}

/**
 * @param {string} id
 * @returns {HTMLTableRowElement | null} the row of session `id`, if it is on the page
 */
function rowFor(id) {
  return Array.from(body.rows).find((tr) => tr.dataset.sessionId === id) ?? null;
}

/**
 * @param {string} id
 * @returns {Session | undefined} the session `id`, if it is on the page
 */
export function findSession(id) {
  return state.sessions.find((x) => x.id === id);
}

function syncUrl() {
  const q = new URLSearchParams();
  if (state.page > 1) q.set('page', String(state.page));
  if (state.search) q.set('search', state.search);
  if (state.status !== DEFAULT_STATUS) q.set('status', state.status);
  if (state.sort !== DEFAULT_SORT) q.set('sort', state.sort);
  const qs = q.toString();
  history.replaceState(null, '', qs ? `?${qs}` : location.pathname);
}

/**
 * Takes page, search, status and sort from the address (values the <select>s do not offer are
 * ignored) and shows them in the toolbar.
 * @param {URLSearchParams} q
 */
export function restore(q) {
  state.page = Math.max(1, parseInt(q.get('page') ?? '', 10) || 1);
  state.search = (q.get('search') ?? '').trim();
  const status = q.get('status');
  if (status !== null && optionValues(statusSelect).includes(status)) state.status = status;
  const sort = q.get('sort');
  if (sort !== null && optionValues(sortSelect).includes(sort)) state.sort = sort;
  search.value = state.search;
  statusSelect.value = state.status;
  sortSelect.value = state.sort;
}

/** Loads the current page (a newer call cancels an older one still running). */
export async function loadSessions() {
  listAbort?.abort();
  const ctl = new AbortController();
  listAbort = ctl;
  const [sort = '', order = ''] = state.sort.split(':');
  table.setAttribute('aria-busy', 'true');
  syncUrl();
  try {
    const data = await listSessions({ page: state.page, search: state.search, status: state.status, sort, order }, ctl.signal);
    state.total = Number(data.total) || 0;
    state.totalExact = data.totalExact !== false;
    state.pageSize = Number(data.pageSize) || state.pageSize;
    state.sessions = Array.isArray(data.sessions) ? data.sessions : [];
    if (!state.sessions.length && state.page > 1 && state.page > pageCount()) {
      state.page = pageCount(); // the page we were on disappeared (deletions)
      return loadSessions();
    }
    clearError();
    render();
  } catch (e) {
    if (isAbort(e)) return;
    showError(e);
    if (!state.sessions.length) {
      body.replaceChildren(placeholder('Could not load sessions.'));
      total.textContent = '—';
    }
  } finally {
    if (listAbort === ctl) {
      table.removeAttribute('aria-busy');
      listAbort = null;
    }
  }
}

/** The list and the statistics, both anew. */
export function reloadAll() {
  loadSessions();
  loadStats();
}

/**
 * Takes session `id` off the page at once (the server already forgot it), moving focus to a
 * neighbour's Delete button.
 * @param {string} id
 */
export function removeRow(id) {
  const tr = rowFor(id);
  let nextFocus = null;
  if (tr) {
    const sibling = tr.nextElementSibling || tr.previousElementSibling;
    nextFocus = sibling?.querySelector('[data-action="delete"]');
    tr.remove();
  }
  const before = state.sessions.length;
  state.sessions = state.sessions.filter((x) => x.id !== id);
  if (state.sessions.length < before && state.totalExact) state.total = Math.max(0, state.total - 1);
  if (!state.sessions.length) body.replaceChildren(placeholder('No sessions on this page.'));
  renderMeta();
  if (!document.querySelector('dialog[open]')) (nextFocus instanceof HTMLElement ? nextFocus : search).focus();
}

/** Brings the relative times in the table up to date. */
export function refreshTimes() {
  for (const t of body.querySelectorAll('time[data-rel]')) {
    const d = parseDate(t.getAttribute('datetime'));
    if (d) t.textContent = relative(d);
  }
}
