// @ts-check
// Gatehouse sessions dashboard, the entry module: wires the toolbar, the table's buttons and
// the pager, restores the filters from the address and loads the page. Plain ES modules, no
// dependencies; every module is served from `{mount}/assets/` under a CSP with no inline code.

import { deleteSession, openSession } from './detail.js';
import { byId, eventElement } from './dom.js';
import { announce, clearError } from './notify.js';
import { findSession, loadSessions, refreshTimes, reloadAll, restore, state } from './sessions.js';
import './seed.js';

const search = byId('search-input', HTMLInputElement);
const statusSelect = byId('status-filter', HTMLSelectElement);
const sortSelect = byId('sort-select', HTMLSelectElement);
const body = byId('sessions-body', HTMLTableSectionElement);
const prev = byId('prev-page', HTMLButtonElement);
const next = byId('next-page', HTMLButtonElement);

let searchTimer = 0;
search.addEventListener('input', () => {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(() => {
    const v = search.value.trim();
    if (v === state.search) return;
    state.search = v;
    state.page = 1;
    loadSessions();
  }, 300);
});

statusSelect.addEventListener('change', () => {
  state.status = statusSelect.value;
  state.page = 1;
  loadSessions();
});

sortSelect.addEventListener('change', () => {
  state.sort = sortSelect.value;
  state.page = 1;
  loadSessions();
});

prev.addEventListener('click', () => {
  if (state.page > 1) { state.page--; loadSessions(); }
});
next.addEventListener('click', () => {
  if (!next.disabled) { state.page++; loadSessions(); }
});

byId('refresh-button', HTMLButtonElement).addEventListener('click', () => {
  reloadAll();
  announce('Refreshing sessions.');
});

// View and Delete in every row, by delegation.
body.addEventListener('click', (ev) => {
  const btn = eventElement(ev)?.closest('button[data-action]');
  if (!(btn instanceof HTMLElement)) return;
  const row = btn.closest('tr');
  const s = row ? findSession(row.dataset.sessionId ?? '') : undefined;
  if (!s) return;
  if (btn.dataset.action === 'view') openSession(s);
  else deleteSession(s);
});

byId('error-dismiss', HTMLButtonElement).addEventListener('click', () => {
  clearError();
  search.focus();
});

// Keep relative times fresh.
setInterval(refreshTimes, 60000);

restore(new URLSearchParams(location.search));
reloadAll();
