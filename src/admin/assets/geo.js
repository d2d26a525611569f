// @ts-check
// Locations of session addresses the list came without: asked for once per address, at most
// GEO_CONCURRENCY at a time.

import { isAuthError, resolveGeo } from './api.js';
import { locationText } from './format.js';
import { showError } from './notify.js';

/** @typedef {import('./api.js').GeoLocation} GeoLocation */
/** @typedef {import('./api.js').Session} Session */

/** How many lookups the page has in flight at once (a courtesy to the server, not its rule). */
const GEO_CONCURRENCY = 4;

/** @typedef {{ ip: string, resolve: (loc: GeoLocation) => void, reject: (e: unknown) => void }} Job */

/** @type {Map<string, Promise<GeoLocation>>} */
const cache = new Map();
/** @type {Job[]} */
const queue = [];
let inFlight = 0;

/**
 * @param {string} ip
 * @returns {Promise<GeoLocation>}
 */
function resolveIp(ip) {
  let found = cache.get(ip);
  if (!found) {
    found = new Promise((resolve, reject) => {
      queue.push({ ip, resolve, reject });
      pump();
    }).catch((e) => {
      cache.delete(ip); // allow a retry on the next render
      throw e;
    });
    cache.set(ip, found);
  }
  return found;
}

function pump() {
  while (inFlight < GEO_CONCURRENCY && queue.length) {
    const job = /** @type {Job} */ (queue.shift());
    inFlight++;
    resolveGeo(job.ip)
      .then(job.resolve, job.reject)
      .finally(() => { inFlight--; pump(); });
  }
}

/**
 * Fills a location element, resolving lazily when the session has no location yet (and then
 * keeping it on the session).
 * @param {HTMLElement} el
 * @param {Session} session
 */
export function fillLocation(el, session) {
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
    if (isAuthError(e)) showError(e);
  }).finally(() => el.removeAttribute('aria-busy'));
}
