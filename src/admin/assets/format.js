// @ts-check
// How values look on the page: numbers, dates, locations, status badges, short ids.

import { h } from './dom.js';

/** @typedef {import('./api.js').GeoLocation} GeoLocation */

export const numberFmt = new Intl.NumberFormat();
const dateFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
const relFmt = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });

/** @type {[Intl.RelativeTimeFormatUnit, number][]} */
const UNITS = [['year', 31536000], ['month', 2592000], ['week', 604800], ['day', 86400], ['hour', 3600], ['minute', 60]];

/**
 * @param {string | null | undefined} iso
 * @returns {Date | null} null for a missing or unreadable date
 */
export function parseDate(iso) {
  const d = iso ? new Date(iso) : null;
  return d && !Number.isNaN(d.getTime()) ? d : null;
}

/**
 * "in 3 days", "2 hours ago".
 * @param {Date} d
 * @returns {string}
 */
export function relative(d) {
  const secs = (d.getTime() - Date.now()) / 1000;
  for (const [unit, size] of UNITS) {
    if (Math.abs(secs) >= size) return relFmt.format(Math.round(secs / size), unit);
  }
  return relFmt.format(Math.round(secs), 'second');
}

/**
 * A <time> showing relative text with the absolute date in its title (or the reverse). Those
 * with `data-rel` are kept fresh by the page.
 * @param {string | null | undefined} iso
 * @param {boolean} [absoluteFirst]
 * @returns {HTMLElement}
 */
export function timeEl(iso, absoluteFirst = false) {
  const d = parseDate(iso);
  if (!d) return h('span', { class: 'muted', text: '—' });
  const abs = dateFmt.format(d);
  const el = h('time', { datetime: d.toISOString(), 'data-rel': absoluteFirst ? null : '1' });
  el.textContent = absoluteFirst ? `${abs} (${relative(d)})` : relative(d);
  el.title = absoluteFirst ? d.toISOString() : `${abs} (${d.toISOString()})`;
  return el;
}

/**
 * "City, Region, Country 🇬🇧" (the flag as the server sends it), or what kind of address it is.
 * @param {GeoLocation | null | undefined} loc
 * @returns {string}
 */
export function locationText(loc) {
  if (!loc) return 'Unknown';
  if (loc.kind === 'private') return 'Private network';
  if (loc.kind === 'loopback') return 'Localhost';
  const parts = [loc.city, loc.region, loc.country].filter(Boolean);
  if (!parts.length) return 'Unknown';
  return parts.join(', ') + (loc.flag ? ` ${loc.flag}` : '');
}

/**
 * @param {string} status `active` or `expired`
 * @returns {HTMLElement}
 */
export function badge(status) {
  const active = status === 'active';
  return h('span', { class: `badge ${active ? 'badge-active' : 'badge-expired'}`, text: active ? 'Active' : 'Expired' });
}

/**
 * @param {string} id
 * @returns {string} the id, cut to 12 characters and an ellipsis when long
 */
export function shortId(id) {
  return id.length > 14 ? `${id.slice(0, 12)}…` : id;
}
