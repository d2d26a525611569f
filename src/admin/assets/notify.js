// @ts-check
// What the page tells the user: the error banner, and the polite live region for screen readers.

import { describeError, isAbort } from './api.js';
import { byId } from './dom.js';

const banner = byId('error-banner', HTMLElement);
const bannerText = byId('error-text', HTMLElement);
const live = byId('status', HTMLElement);

/**
 * Shows a failure (or a ready sentence) in the banner; an aborted request is no failure.
 * @param {unknown} e
 */
export function showError(e) {
  if (isAbort(e)) return;
  bannerText.textContent = typeof e === 'string' ? e : describeError(e);
  banner.hidden = false;
}

export function clearError() {
  banner.hidden = true;
}

/**
 * Says `text` to screen readers.
 * @param {string} text
 */
export function announce(text) {
  // Clear first so that repeating the same message is announced again.
  live.textContent = '';
  setTimeout(() => { live.textContent = text; }, 50);
}
