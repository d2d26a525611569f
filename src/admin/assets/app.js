// Gatehouse sessions dashboard: plain ES2020, no dependencies.
// All API URLs are relative to the page, which is served at `{mount}/`.
'use strict';

(() => {
  const PAGE_SIZE = 25;
  const GEO_CONCURRENCY = 4;
  const SORTS = ['expiresAt:asc', 'expiresAt:desc', 'createdAt:asc', 'createdAt:desc', 'updatedAt:asc', 'updatedAt:desc'];
  const STATUSES = ['all', 'active', 'expired'];

  const $ = (id) => document.getElementById(id);
  const els = {
    total: $('total-count'), totalLabel: $('total-label'),
    stats: $('stats'), statActive: $('stat-active'), statExpired: $('stat-expired'),
    statUsers: $('stat-users'), statCountries: $('stat-countries'), statCountriesWrap: $('stat-countries-wrap'),
    banner: $('error-banner'), bannerText: $('error-text'), bannerDismiss: $('error-dismiss'),
    search: $('search-input'), status: $('status-filter'), sort: $('sort-select'),
    table: $('sessions-table'), body: $('sessions-body'),
    prev: $('prev-page'), next: $('next-page'), pageInfo: $('page-info'),
    live: $('status'), refresh: $('refresh-button'),
    modal: $('session-modal'), confirm: $('confirm-modal'), seed: $('seed-modal'),
    seedForm: $('seed-form'), seedCount: $('seed-count'), seedSubmit: $('seed-submit'),
    seedResult: $('seed-result'), seedHelp: $('seed-help'), seedCountLabel: $('seed-count-label'),
  };

  const state = { page: 1, search: '', status: 'all', sort: 'createdAt:desc', total: 0, totalExact: true, sessions: [] };

  // ---------- small helpers ----------

  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k === 'text') el.textContent = v;
      else el.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children) if (c !== null && c !== undefined) el.append(c);
    return el;
  }

  const apiUrl = (path) => new URL('api/' + path, document.baseURI);

  class ApiError extends Error {
    constructor(status, code, message) {
      super(message || code || `HTTP ${status}`);
      this.status = status;
      this.code = code;
    }
  }

  async function api(method, path, body, signal) {
    const init = { method, credentials: 'same-origin', headers: { accept: 'application/json' }, signal };
    if (body !== undefined) {
      init.headers['content-type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch(apiUrl(path), init);
    } catch (e) {
      if (e.name === 'AbortError') throw e;
      throw new ApiError(0, 'network', 'Could not reach the server.');
    }
    let data = null;
    try { data = await res.json(); } catch { /* empty or non-JSON body */ }
    if (!res.ok) {
      throw new ApiError(res.status, data && data.error, data && data.message);
    }
    return data;
  }

  function describeError(e) {
    if (e.status === 401 || (e.status === 403 && e.code !== 'seeding_disabled')) {
      return 'You are not signed in as an admin.';
    }
    if (e.status === 0) return e.message;
    const code = e.code ? ` (${e.code})` : '';
    const msg = e.message && e.message !== e.code ? `: ${e.message}` : '';
    return `Request failed with HTTP ${e.status}${code}${msg}`;
  }

  function showError(e) {
    if (e && e.name === 'AbortError') return;
    els.bannerText.textContent = typeof e === 'string' ? e : describeError(e);
    els.banner.hidden = false;
  }

  function clearError() { els.banner.hidden = true; }

  function announce(text) {
    // Clear first so that repeating the same message is announced again.
    els.live.textContent = '';
    setTimeout(() => { els.live.textContent = text; }, 50);
  }

  const numberFmt = new Intl.NumberFormat();
  const dateFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
  const relFmt = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });

  function parseDate(iso) {
    const d = iso ? new Date(iso) : null;
    return d && !Number.isNaN(d.getTime()) ? d : null;
  }

  function relative(d) {
    const secs = (d.getTime() - Date.now()) / 1000;
    const units = [['year', 31536000], ['month', 2592000], ['week', 604800], ['day', 86400], ['hour', 3600], ['minute', 60]];
    for (const [unit, size] of units) {
      if (Math.abs(secs) >= size) return relFmt.format(Math.round(secs / size), unit);
    }
    return relFmt.format(Math.round(secs), 'second');
  }

  // A <time> showing relative text with the absolute date in its title (or the reverse).
  function timeEl(iso, absoluteFirst) {
    const d = parseDate(iso);
    if (!d) return h('span', { class: 'muted', text: '—' });
    const abs = dateFmt.format(d);
    const el = h('time', { datetime: d.toISOString(), 'data-rel': absoluteFirst ? null : '1' });
    el.textContent = absoluteFirst ? `${abs} (${relative(d)})` : relative(d);
    el.title = absoluteFirst ? d.toISOString() : `${abs} (${d.toISOString()})`;
    return el;
  }

  function flagFor(loc) {
    if (loc.flag) return loc.flag;
    const cc = (loc.countryCode || '').toUpperCase();
    if (!/^[A-Z]{2}$/.test(cc)) return '';
    return String.fromCodePoint(...[...cc].map((c) => 0x1f1e6 + c.charCodeAt(0) - 65));
  }

  function locationText(loc) {
    if (!loc) return 'Unknown';
    if (loc.kind === 'private') return 'Private network';
    if (loc.kind === 'loopback') return 'Localhost';
    const parts = [loc.city, loc.region, loc.country].filter(Boolean);
    if (!parts.length) return 'Unknown';
    const flag = flagFor(loc);
    return parts.join(', ') + (flag ? ` ${flag}` : '');
  }

  function badge(status) {
    const active = status === 'active';
    return h('span', { class: `badge ${active ? 'badge-active' : 'badge-expired'}`, text: active ? 'Active' : 'Expired' });
  }

  // ---------- IP geolocation: deduplicated per IP, at most GEO_CONCURRENCY in flight ----------

  const geo = { cache: new Map(), queue: [], inFlight: 0 };

  function resolveIp(ip) {
    if (!geo.cache.has(ip)) {
      geo.cache.set(ip, new Promise((resolve, reject) => {
        geo.queue.push({ ip, resolve, reject });
        pumpGeo();
      }).catch((e) => {
        geo.cache.delete(ip); // allow a retry on the next render
        throw e;
      }));
    }
    return geo.cache.get(ip);
  }

  function pumpGeo() {
    while (geo.inFlight < GEO_CONCURRENCY && geo.queue.length) {
      const job = geo.queue.shift();
      geo.inFlight++;
      api('POST', 'geo/resolve', { ip: job.ip })
        .then(job.resolve, job.reject)
        .finally(() => { geo.inFlight--; pumpGeo(); });
    }
  }

  // Fill a location element, resolving lazily when the row has no location yet.
  function fillLocation(el, session) {
    if (session.location) {
      el.textContent = locationText(session.location);
      return;
    }
    if (!session.ipAddress) {
      el.textContent = 'Unknown';
      return;
    }
    el.textContent = 'Resolving...';
    el.setAttribute('aria-busy', 'true');
    resolveIp(session.ipAddress).then((loc) => {
      session.location = loc;
      el.textContent = locationText(loc);
    }, (e) => {
      el.textContent = 'Unknown';
      el.title = 'Location lookup failed';
      if (e.status === 401 || e.status === 403) showError(e);
    }).finally(() => el.removeAttribute('aria-busy'));
  }

  // ---------- list ----------

  let listAbort = null;

  function cell(label, ...children) {
    return h('td', { 'data-label': label }, h('div', null, ...children));
  }

  function renderRow(s) {
    const user = s.user || {};
    const loc = h('span', { class: 'loc', 'data-testid': 'location' });
    fillLocation(loc, s);
    const tr = h('tr', { 'data-testid': 'session-row', 'data-session-id': s.id },
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
    return tr;
  }

  function placeholder(text) {
    return h('tr', { class: 'placeholder' }, h('td', { colspan: '6', text }));
  }

  function pageCount() { return Math.max(1, Math.ceil(state.total / PAGE_SIZE)); }

  function renderMeta() {
    // Past the server's count limit the total is a lower bound: "10,000+".
    const more = state.totalExact ? '' : '+';
    els.total.textContent = numberFmt.format(state.total) + more;
    const filtered = state.search || state.status !== 'all';
    els.totalLabel.textContent = (state.total === 1 ? 'session' : 'sessions') + (filtered ? ' matching' : '');
    els.pageInfo.textContent = `Page ${state.page} of ${pageCount()}${more}`;
    els.prev.disabled = state.page <= 1;
    els.next.disabled = state.totalExact ? state.page >= pageCount() : state.sessions.length < PAGE_SIZE;
  }

  function render() {
    // Keep keyboard focus on the same row and button across re-renders.
    const active = document.activeElement;
    const row = active && active.closest && active.closest('tr[data-session-id]');
    const keep = row && els.body.contains(row) ? { id: row.dataset.sessionId, action: active.dataset.action } : null;

    els.body.replaceChildren(...(state.sessions.length
      ? state.sessions.map(renderRow)
      : [placeholder(state.search || state.status !== 'all' ? 'No sessions match these filters.' : 'No sessions yet.')]));
    renderMeta();

    if (keep) {
      const again = rowFor(keep.id);
      const btn = again && again.querySelector(`[data-action="${keep.action}"]`);
      if (btn) btn.focus(); else els.table.focus();
    }
  }

  function rowFor(id) {
    return [...els.body.querySelectorAll('tr[data-session-id]')].find((tr) => tr.dataset.sessionId === id) || null;
  }

  function syncUrl() {
    const q = new URLSearchParams();
    if (state.page > 1) q.set('page', state.page);
    if (state.search) q.set('search', state.search);
    if (state.status !== 'all') q.set('status', state.status);
    if (state.sort !== 'createdAt:desc') q.set('sort', state.sort);
    const qs = q.toString();
    history.replaceState(null, '', qs ? `?${qs}` : location.pathname);
  }

  async function loadSessions() {
    if (listAbort) listAbort.abort();
    const ctl = new AbortController();
    listAbort = ctl;
    const [sort, order] = state.sort.split(':');
    const q = new URLSearchParams({
      page: state.page, pageSize: PAGE_SIZE, search: state.search, status: state.status, sort, order,
    });
    els.table.setAttribute('aria-busy', 'true');
    syncUrl();
    try {
      const data = await api('GET', `sessions?${q}`, undefined, ctl.signal);
      state.total = Number(data.total) || 0;
      state.totalExact = data.totalExact !== false;
      state.sessions = Array.isArray(data.sessions) ? data.sessions : [];
      if (!state.sessions.length && state.page > 1 && state.page > pageCount()) {
        state.page = pageCount(); // the page we were on disappeared (deletions)
        return loadSessions();
      }
      clearError();
      render();
    } catch (e) {
      if (e.name === 'AbortError') return;
      showError(e);
      if (!state.sessions.length) {
        els.body.replaceChildren(placeholder('Could not load sessions.'));
        els.total.textContent = '—';
      }
    } finally {
      if (listAbort === ctl) {
        els.table.removeAttribute('aria-busy');
        listAbort = null;
      }
    }
  }

  async function loadStats() {
    try {
      const s = await api('GET', 'stats');
      els.statActive.textContent = numberFmt.format(s.active || 0);
      els.statExpired.textContent = numberFmt.format(s.expired || 0);
      els.statUsers.textContent = numberFmt.format(s.usersWithSessions || 0);
      const countries = (s.byCountry || []).slice(0, 5);
      els.statCountries.textContent = countries
        .map((c) => `${flagFor(c) || c.countryCode || c.country || '?'} ${numberFmt.format(c.sessions)}`)
        .join('  ');
      els.statCountries.title = countries.map((c) => `${c.country || c.countryCode || 'Unknown'}: ${c.sessions}`).join(', ');
      els.statCountriesWrap.hidden = !countries.length;
      els.stats.hidden = false;
    } catch (e) {
      // Stats are optional; auth problems surface through the list request.
      els.stats.hidden = true;
    }
  }

  function reloadAll() {
    loadSessions();
    loadStats();
  }

  // ---------- dialogs ----------

  // Remember what opened a dialog and return focus there (or to a fallback) when it closes.
  const openers = new WeakMap();

  function openDialog(dialog, focusEl) {
    const opener = document.activeElement;
    if (!dialog.open) {
      openers.set(dialog, opener);
      dialog.showModal();
    }
    if (focusEl) focusEl.focus();
  }

  for (const dialog of [els.modal, els.confirm, els.seed]) {
    dialog.addEventListener('close', () => {
      const opener = openers.get(dialog);
      openers.delete(dialog);
      // A dialog still open keeps focus; so does an element the page already focused.
      if (document.querySelector('dialog[open]')) return;
      const usable = (el) => el && el !== document.body && el.isConnected && !el.closest('dialog:not([open])');
      if (usable(document.activeElement)) return;
      if (usable(opener) && typeof opener.focus === 'function') opener.focus();
      else (els.body.querySelector('[data-action="view"]') || els.search).focus();
    });
    // Close buttons, and a click on the backdrop.
    dialog.addEventListener('click', (ev) => {
      if (ev.target === dialog || ev.target.closest('[data-close]')) dialog.close();
    });
  }

  // Confirmation: resolves true when confirmed.
  let confirmResolve = null;
  function confirmAction(title, text, confirmLabel) {
    $('confirm-title').textContent = title;
    $('confirm-text').textContent = text;
    $('confirm-delete').textContent = confirmLabel;
    $('confirm-delete').disabled = false;
    openDialog(els.confirm, $('confirm-cancel'));
    return new Promise((resolve) => { confirmResolve = resolve; });
  }
  $('confirm-delete').addEventListener('click', () => {
    const r = confirmResolve;
    confirmResolve = null;
    if (r) r(true);
  });
  els.confirm.addEventListener('close', () => {
    const r = confirmResolve;
    confirmResolve = null;
    if (r) r(false);
  });

  // ---------- delete ----------

  function shortId(id) { return id.length > 14 ? `${id.slice(0, 12)}…` : id; }

  async function deleteSession(s) {
    const who = s.user && (s.user.email || s.user.name) ? ` for ${s.user.email || s.user.name}` : '';
    const ok = await confirmAction('Delete session?',
      `Session ${shortId(s.id)}${who} will be revoked. The user is signed out on their next request.`, 'Delete');
    if (!ok) return;
    $('confirm-delete').disabled = true;
    let gone = false;
    try {
      await api('DELETE', `sessions/${encodeURIComponent(s.id)}`);
      gone = true;
      announce('Session deleted.');
    } catch (e) {
      if (e.status === 404) {
        gone = true;
        announce('That session was already gone.');
      } else {
        showError(e);
      }
    }
    els.confirm.close();
    if (!gone) return;
    if (els.modal.open && current && current.id === s.id) els.modal.close();
    removeRow(s.id);
    loadStats();
    // Refill the page from the server (quietly; focus is kept per row).
    loadSessions();
  }

  function removeRow(id) {
    const tr = rowFor(id);
    let nextFocus = null;
    if (tr) {
      const sibling = tr.nextElementSibling || tr.previousElementSibling;
      nextFocus = sibling && sibling.querySelector('[data-action="delete"]');
      tr.remove();
    }
    const before = state.sessions.length;
    state.sessions = state.sessions.filter((x) => x.id !== id);
    if (state.sessions.length < before && state.totalExact) state.total = Math.max(0, state.total - 1);
    if (!state.sessions.length) els.body.replaceChildren(placeholder('No sessions on this page.'));
    renderMeta();
    if (!document.querySelector('dialog[open]')) (nextFocus || els.search).focus();
  }

  // ---------- session modal ----------

  let current = null;

  function fillModal(s) {
    const user = s.user || {};
    $('d-session-id').textContent = s.id;
    $('d-user-id').textContent = user.id || '—';
    $('copy-user-id').disabled = !user.id;
    $('modal-revoke-user').disabled = !user.id;
    $('d-user-name').textContent = user.name || '(no name)';
    $('d-user-email').textContent = user.email || '';
    $('d-status').replaceChildren(badge(s.status));
    $('d-ip').textContent = s.ipAddress || '—';
    const loc = $('d-location');
    const l = s.location;
    if (l) {
      loc.textContent = locationText(l) + (l.kind === 'public' && l.countryCode ? ` (${l.countryCode})` : '');
    } else {
      fillLocation(loc, s);
    }
    $('d-user-agent').textContent = s.userAgent || '—';
    $('d-created').replaceChildren(timeEl(s.createdAt, true));
    $('d-updated').replaceChildren(timeEl(s.updatedAt, true));
    $('d-expires').replaceChildren(timeEl(s.expiresAt, true));
  }

  async function openSession(s) {
    current = s;
    for (const b of [$('copy-session-id'), $('copy-user-id')]) b.textContent = 'Copy';
    fillModal(s);
    openDialog(els.modal, $('copy-session-id'));
    try {
      const full = await api('GET', `sessions/${encodeURIComponent(s.id)}`);
      if (current && current.id === s.id && full) {
        current = full;
        fillModal(full);
      }
    } catch (e) {
      if (e.status === 404) {
        els.modal.close();
        removeRow(s.id);
        announce('That session no longer exists.');
      } else {
        showError(e);
      }
    }
  }

  async function copyText(text) {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch {
      // Fallback for contexts without the async clipboard (plain http, no permission).
      const ta = h('textarea', { readonly: true, class: 'sr-only' });
      ta.value = text;
      (document.querySelector('dialog[open]') || document.body).append(ta);
      ta.select();
      let ok = false;
      try { ok = document.execCommand('copy'); } catch { ok = false; }
      ta.remove();
      return ok;
    }
  }

  function wireCopy(button, getText, what) {
    let timer = 0;
    button.addEventListener('click', async () => {
      const ok = await copyText(getText());
      button.textContent = ok ? 'Copied' : 'Copy failed';
      announce(ok ? `${what} copied to the clipboard.` : `Could not copy the ${what}.`);
      clearTimeout(timer);
      timer = setTimeout(() => { button.textContent = 'Copy'; }, 2000);
    });
  }
  wireCopy($('copy-session-id'), () => (current ? current.id : ''), 'Session ID');
  wireCopy($('copy-user-id'), () => (current && current.user ? current.user.id : ''), 'User ID');

  $('modal-delete').addEventListener('click', () => { if (current) deleteSession(current); });

  $('modal-revoke-user').addEventListener('click', async () => {
    const user = current && current.user;
    if (!user || !user.id) return;
    const ok = await confirmAction('Revoke all sessions?',
      `Every session of ${user.email || user.name || user.id} will be revoked. They are signed out everywhere.`, 'Revoke all');
    if (!ok) return;
    $('confirm-delete').disabled = true;
    try {
      const r = await api('DELETE', `users/${encodeURIComponent(user.id)}/sessions`);
      const n = Number(r && r.revoked) || 0;
      announce(`Revoked ${n} session${n === 1 ? '' : 's'}.`);
      els.confirm.close();
      els.modal.close();
      reloadAll();
    } catch (e) {
      els.confirm.close();
      showError(e);
    }
  });

  // ---------- seeding ----------

  let seedKind = 'sessions';
  const tabs = [$('seed-tab-sessions'), $('seed-tab-accounts')];

  function selectTab(tab, focus) {
    seedKind = tab.dataset.kind;
    for (const t of tabs) {
      const on = t === tab;
      t.setAttribute('aria-selected', String(on));
      t.tabIndex = on ? 0 : -1;
    }
    els.seedForm.setAttribute('aria-labelledby', tab.id);
    const sessions = seedKind === 'sessions';
    els.seedHelp.textContent = sessions
      ? 'Creates sessions for random existing users. Seeded data is real: use in development only.'
      : 'Creates linked accounts with random providers for existing users. Use in development only.';
    els.seedCountLabel.textContent = `Number of ${seedKind} (1–100)`;
    els.seedSubmit.textContent = sessions ? 'Seed sessions' : 'Seed accounts';
    els.seedResult.textContent = '';
    els.seedResult.classList.remove('is-error');
    if (focus) tab.focus();
  }

  for (const t of tabs) {
    t.addEventListener('click', () => selectTab(t, false));
    t.addEventListener('keydown', (ev) => {
      const i = tabs.indexOf(t);
      let j = null;
      if (ev.key === 'ArrowRight') j = (i + 1) % tabs.length;
      else if (ev.key === 'ArrowLeft') j = (i - 1 + tabs.length) % tabs.length;
      else if (ev.key === 'Home') j = 0;
      else if (ev.key === 'End') j = tabs.length - 1;
      if (j === null) return;
      ev.preventDefault();
      selectTab(tabs[j], true);
    });
  }

  $('seed-button').addEventListener('click', () => {
    els.seedResult.textContent = '';
    els.seedResult.classList.remove('is-error');
    openDialog(els.seed, tabs.find((t) => t.getAttribute('aria-selected') === 'true'));
  });

  els.seedForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const n = Number(els.seedCount.value);
    const setResult = (text, isError) => {
      els.seedResult.textContent = text;
      els.seedResult.classList.toggle('is-error', isError);
    };
    if (!Number.isInteger(n) || n < 1 || n > 100) {
      setResult('Enter a whole number from 1 to 100.', true);
      els.seedCount.setAttribute('aria-invalid', 'true');
      els.seedCount.focus();
      return;
    }
    els.seedCount.removeAttribute('aria-invalid');
    const kind = seedKind;
    els.seedSubmit.disabled = true;
    setResult(`Seeding ${n} ${kind}…`, false);
    try {
      const r = await api('POST', `seed/${kind}`, { count: n });
      setResult(`created ${Number(r && r.created) || 0}, failed ${Number(r && r.failed) || 0}`, false);
      if (kind === 'sessions') reloadAll();
    } catch (e) {
      if (e.code === 'seeding_disabled') {
        setResult(`Seeding is disabled on this gateway (seeding_disabled)${e.message && e.message !== e.code ? `: ${e.message}` : ''}`, true);
      } else {
        setResult(describeError(e), true);
      }
    } finally {
      els.seedSubmit.disabled = false;
    }
  });

  // ---------- toolbar, table, pagination ----------

  let searchTimer = 0;
  els.search.addEventListener('input', () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => {
      const v = els.search.value.trim();
      if (v === state.search) return;
      state.search = v;
      state.page = 1;
      loadSessions();
    }, 300);
  });

  els.status.addEventListener('change', () => {
    state.status = els.status.value;
    state.page = 1;
    loadSessions();
  });

  els.sort.addEventListener('change', () => {
    state.sort = els.sort.value;
    state.page = 1;
    loadSessions();
  });

  els.prev.addEventListener('click', () => {
    if (state.page > 1) { state.page--; loadSessions(); }
  });
  els.next.addEventListener('click', () => {
    if (!els.next.disabled) { state.page++; loadSessions(); }
  });

  els.refresh.addEventListener('click', () => {
    reloadAll();
    announce('Refreshing sessions.');
  });

  els.body.addEventListener('click', (ev) => {
    const btn = ev.target.closest('button[data-action]');
    if (!btn) return;
    const id = btn.closest('tr').dataset.sessionId;
    const s = state.sessions.find((x) => x.id === id);
    if (!s) return;
    if (btn.dataset.action === 'view') openSession(s);
    else deleteSession(s);
  });

  els.bannerDismiss.addEventListener('click', () => {
    clearError();
    els.search.focus();
  });

  // Keep relative times fresh.
  setInterval(() => {
    for (const t of els.body.querySelectorAll('time[data-rel]')) {
      const d = parseDate(t.getAttribute('datetime'));
      if (d) t.textContent = relative(d);
    }
  }, 60000);

  // ---------- start: restore filters from the query string ----------

  const q = new URLSearchParams(location.search);
  state.page = Math.max(1, parseInt(q.get('page'), 10) || 1);
  state.search = (q.get('search') || '').trim();
  if (STATUSES.includes(q.get('status'))) state.status = q.get('status');
  if (SORTS.includes(q.get('sort'))) state.sort = q.get('sort');
  els.search.value = state.search;
  els.status.value = state.status;
  els.sort.value = state.sort;

  reloadAll();
})();
