// @ts-check
// The Seed dialog: test sessions or accounts for existing users. The count's bounds are the
// input's min and max (the server's 1 to 100).

import { ApiError, describeError, seed } from './api.js';
import { openDialog } from './dialogs.js';
import { byId } from './dom.js';
import { reloadAll } from './sessions.js';

/** @typedef {import('./api.js').SeedKind} SeedKind */

const dialog = byId('seed-modal', HTMLDialogElement);
const form = byId('seed-form', HTMLFormElement);
const count = byId('seed-count', HTMLInputElement);
const submit = byId('seed-submit', HTMLButtonElement);
const result = byId('seed-result', HTMLElement);
const help = byId('seed-help', HTMLElement);
const countLabel = byId('seed-count-label', HTMLElement);
const tabs = [byId('seed-tab-sessions', HTMLButtonElement), byId('seed-tab-accounts', HTMLButtonElement)];

const MIN = Number(count.min);
const MAX = Number(count.max);

/** @type {SeedKind} */
let seedKind = 'sessions';

/**
 * @param {string} text
 * @param {boolean} isError
 */
function setResult(text, isError) {
  result.textContent = text;
  result.classList.toggle('is-error', isError);
}

/**
 * @param {HTMLButtonElement} tab
 * @param {boolean} focus
 */
function selectTab(tab, focus) {
  seedKind = tab.dataset.kind === 'accounts' ? 'accounts' : 'sessions';
  for (const t of tabs) {
    const on = t === tab;
    t.setAttribute('aria-selected', String(on));
    t.tabIndex = on ? 0 : -1;
  }
  form.setAttribute('aria-labelledby', tab.id);
  const sessions = seedKind === 'sessions';
  help.textContent = sessions
    ? 'Creates sessions for random existing users. Seeded data is real: use in development only.'
    : 'Creates linked accounts with random providers for existing users. Use in development only.';
  countLabel.textContent = `Number of ${seedKind} (${MIN}–${MAX})`;
  submit.textContent = sessions ? 'Seed sessions' : 'Seed accounts';
  setResult('', false);
  if (focus) tab.focus();
}

tabs.forEach((t, i) => {
  t.addEventListener('click', () => selectTab(t, false));
  t.addEventListener('keydown', (ev) => {
    let j = null;
    if (ev.key === 'ArrowRight') j = (i + 1) % tabs.length;
    else if (ev.key === 'ArrowLeft') j = (i - 1 + tabs.length) % tabs.length;
    else if (ev.key === 'Home') j = 0;
    else if (ev.key === 'End') j = tabs.length - 1;
    const to = j === null ? undefined : tabs[j];
    if (!to) return;
    ev.preventDefault();
    selectTab(to, true);
  });
});

byId('seed-button', HTMLButtonElement).addEventListener('click', () => {
  setResult('', false);
  openDialog(dialog, tabs.find((t) => t.getAttribute('aria-selected') === 'true'));
});

form.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const n = Number(count.value);
  if (!Number.isInteger(n) || n < MIN || n > MAX) {
    setResult(`Enter a whole number from ${MIN} to ${MAX}.`, true);
    count.setAttribute('aria-invalid', 'true');
    count.focus();
    return;
  }
  count.removeAttribute('aria-invalid');
  const kind = seedKind;
  submit.disabled = true;
  setResult(`Seeding ${n} ${kind}…`, false);
  try {
    const r = await seed(kind, n);
    setResult(`created ${Number(r?.created) || 0}, failed ${Number(r?.failed) || 0}`, false);
    if (kind === 'sessions') reloadAll();
  } catch (e) {
    if (e instanceof ApiError && e.code === 'seeding_disabled') {
      setResult(`Seeding is disabled on this gateway (seeding_disabled)${e.message && e.message !== e.code ? `: ${e.message}` : ''}`, true);
    } else {
      setResult(describeError(e), true);
    }
  } finally {
    submit.disabled = false;
  }
});
