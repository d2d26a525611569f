// @ts-check
// The session dialog (details, copy buttons, revoke the user's sessions) and deleting a
// session, from the dialog or from its row.

import * as api from './api.js';
import { closeConfirm, confirmAction, openDialog } from './dialogs.js';
import { byId, h } from './dom.js';
import { badge, locationText, shortId, timeEl } from './format.js';
import { fillLocation } from './geo.js';
import { announce, showError } from './notify.js';
import { loadSessions, reloadAll, removeRow } from './sessions.js';
import { loadStats } from './stats.js';

/** @typedef {import('./api.js').Session} Session */

const modal = byId('session-modal', HTMLDialogElement);
const copySessionId = byId('copy-session-id', HTMLButtonElement);
const copyUserId = byId('copy-user-id', HTMLButtonElement);
const revokeUser = byId('modal-revoke-user', HTMLButtonElement);
const deleteButton = byId('modal-delete', HTMLButtonElement);
const field = {
  sessionId: byId('d-session-id', HTMLElement),
  userId: byId('d-user-id', HTMLElement),
  userName: byId('d-user-name', HTMLElement),
  userEmail: byId('d-user-email', HTMLElement),
  status: byId('d-status', HTMLElement),
  ip: byId('d-ip', HTMLElement),
  location: byId('d-location', HTMLElement),
  userAgent: byId('d-user-agent', HTMLElement),
  created: byId('d-created', HTMLElement),
  updated: byId('d-updated', HTMLElement),
  expires: byId('d-expires', HTMLElement),
};

/** The session the dialog shows (or showed last). @type {Session | null} */
let current = null;

/** @param {Session} s */
function fillModal(s) {
  const user = s.user;
  field.sessionId.textContent = s.id;
  field.userId.textContent = user.id || '—';
  copyUserId.disabled = !user.id;
  revokeUser.disabled = !user.id;
  field.userName.textContent = user.name || '(no name)';
  field.userEmail.textContent = user.email || '';
  field.status.replaceChildren(badge(s.status));
  field.ip.textContent = s.ipAddress || '—';
  const l = s.location;
  if (l) {
    field.location.textContent = locationText(l) + (l.kind === 'public' && l.countryCode ? ` (${l.countryCode})` : '');
  } else {
    fillLocation(field.location, s);
  }
  field.userAgent.textContent = s.userAgent || '—';
  field.created.replaceChildren(timeEl(s.createdAt, true));
  field.updated.replaceChildren(timeEl(s.updatedAt, true));
  field.expires.replaceChildren(timeEl(s.expiresAt, true));
}

/**
 * Opens the dialog on `s` at once, then refreshes it from the server.
 * @param {Session} s
 */
export async function openSession(s) {
  current = s;
  for (const b of [copySessionId, copyUserId]) b.textContent = 'Copy';
  fillModal(s);
  openDialog(modal, copySessionId);
  try {
    const full = await api.getSession(s.id);
    if (current && current.id === s.id && full) {
      current = full;
      fillModal(full);
    }
  } catch (e) {
    if (e instanceof api.ApiError && e.status === 404) {
      modal.close();
      removeRow(s.id);
      announce('That session no longer exists.');
    } else {
      showError(e);
    }
  }
}

/**
 * Asks, then deletes session `s`, and takes it off the page.
 * @param {Session} s
 */
export async function deleteSession(s) {
  const who = s.user.email || s.user.name ? ` for ${s.user.email || s.user.name}` : '';
  const ok = await confirmAction('Delete session?',
    `Session ${shortId(s.id)}${who} will be revoked. The user is signed out on their next request.`, 'Delete');
  if (!ok) return;
  let gone = false;
  try {
    await api.deleteSession(s.id);
    gone = true;
    announce('Session deleted.');
  } catch (e) {
    if (e instanceof api.ApiError && e.status === 404) {
      gone = true;
      announce('That session was already gone.');
    } else {
      showError(e);
    }
  }
  closeConfirm();
  if (!gone) return;
  if (modal.open && current && current.id === s.id) modal.close();
  removeRow(s.id);
  loadStats();
  // Refill the page from the server (quietly; focus is kept per row).
  loadSessions();
}

/**
 * @param {string} text
 * @returns {Promise<boolean>} whether it was copied
 */
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

/**
 * @param {HTMLButtonElement} button
 * @param {() => string} getText
 * @param {string} what
 */
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

wireCopy(copySessionId, () => (current ? current.id : ''), 'Session ID');
wireCopy(copyUserId, () => (current ? current.user.id : ''), 'User ID');

deleteButton.addEventListener('click', () => { if (current) deleteSession(current); });

revokeUser.addEventListener('click', async () => {
  const user = current?.user;
  if (!user || !user.id) return;
  const ok = await confirmAction('Revoke all sessions?',
    `Every session of ${user.email || user.name || user.id} will be revoked. They are signed out everywhere.`, 'Revoke all');
  if (!ok) return;
  try {
    const r = await api.revokeUserSessions(user.id);
    const n = Number(r?.revoked) || 0;
    announce(`Revoked ${n} session${n === 1 ? '' : 's'}.`);
    closeConfirm();
    modal.close();
    reloadAll();
  } catch (e) {
    closeConfirm();
    showError(e);
  }
});
