// @ts-check
// The page's modal dialogs: opening one remembers what had focus and closing gives it back;
// Close buttons and the backdrop close them; a confirmation dialog answers yes or no.

import { byId, eventElement } from './dom.js';

const body = byId('sessions-body', HTMLElement);
const search = byId('search-input', HTMLInputElement);
const confirmDialog = byId('confirm-modal', HTMLDialogElement);
const confirmTitle = byId('confirm-title', HTMLElement);
const confirmText = byId('confirm-text', HTMLElement);
const confirmButton = byId('confirm-delete', HTMLButtonElement);
const confirmCancel = byId('confirm-cancel', HTMLButtonElement);

/** What had focus when each open dialog was opened. @type {WeakMap<HTMLDialogElement, Element | null>} */
const openers = new WeakMap();

/**
 * @param {Element | null} el
 * @returns {el is HTMLElement} true for an element focus can go back to
 */
function usable(el) {
  return el instanceof HTMLElement && el !== document.body && el.isConnected && !el.closest('dialog:not([open])');
}

/**
 * Opens `dialog` as a modal (if it is not open yet) and focuses `focusEl`.
 * @param {HTMLDialogElement} dialog
 * @param {HTMLElement | null | undefined} [focusEl]
 */
export function openDialog(dialog, focusEl) {
  const opener = document.activeElement;
  if (!dialog.open) {
    openers.set(dialog, opener);
    dialog.showModal();
  }
  if (focusEl) focusEl.focus();
}

for (const dialog of document.querySelectorAll('dialog')) {
  dialog.addEventListener('close', () => {
    const opener = openers.get(dialog) ?? null;
    openers.delete(dialog);
    // A dialog still open keeps focus; so does an element the page already focused.
    if (document.querySelector('dialog[open]')) return;
    if (usable(document.activeElement)) return;
    if (usable(opener)) {
      opener.focus();
    } else {
      const firstView = body.querySelector('[data-action="view"]');
      (firstView instanceof HTMLElement ? firstView : search).focus();
    }
  });
  // Close buttons, and a click on the backdrop.
  dialog.addEventListener('click', (ev) => {
    const target = eventElement(ev);
    if (target === dialog || target?.closest('[data-close]')) dialog.close();
  });
}

/** @type {((confirmed: boolean) => void) | null} */
let confirmResolve = null;

/** @param {boolean} confirmed */
function answer(confirmed) {
  const r = confirmResolve;
  confirmResolve = null;
  if (r) r(confirmed);
}

confirmButton.addEventListener('click', () => answer(true));
confirmDialog.addEventListener('close', () => answer(false));

/**
 * Asks for a confirmation; resolves true when it is given. The confirm button is disabled on
 * the way out (until the next question): the caller closes the dialog when done.
 * @param {string} title
 * @param {string} text
 * @param {string} confirmLabel
 * @returns {Promise<boolean>}
 */
export function confirmAction(title, text, confirmLabel) {
  confirmTitle.textContent = title;
  confirmText.textContent = text;
  confirmButton.textContent = confirmLabel;
  confirmButton.disabled = false;
  openDialog(confirmDialog, confirmCancel);
  return new Promise((resolve) => {
    confirmResolve = (confirmed) => {
      if (confirmed) confirmButton.disabled = true;
      resolve(confirmed);
    };
  });
}

/** Closes the confirmation dialog. */
export function closeConfirm() {
  confirmDialog.close();
}
