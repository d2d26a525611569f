// @ts-check
// The statistics above the list: active, expired, users, and the top countries with the flags
// the server sends.

import { getStats } from './api.js';
import { byId } from './dom.js';
import { numberFmt } from './format.js';

const stats = byId('stats', HTMLElement);
const statActive = byId('stat-active', HTMLElement);
const statExpired = byId('stat-expired', HTMLElement);
const statUsers = byId('stat-users', HTMLElement);
const statCountries = byId('stat-countries', HTMLElement);
const statCountriesWrap = byId('stat-countries-wrap', HTMLElement);

/** How many countries are shown. */
const TOP_COUNTRIES = 5;

export async function loadStats() {
  try {
    const s = await getStats();
    statActive.textContent = numberFmt.format(s.active || 0);
    statExpired.textContent = numberFmt.format(s.expired || 0);
    statUsers.textContent = numberFmt.format(s.usersWithSessions || 0);
    const countries = (s.byCountry || []).slice(0, TOP_COUNTRIES);
    statCountries.textContent = countries
      .map((c) => `${c.flag || c.countryCode || c.country || '?'} ${numberFmt.format(c.sessions)}`)
      .join('  ');
    statCountries.title = countries.map((c) => `${c.country || c.countryCode || 'Unknown'}: ${c.sessions}`).join(', ');
    statCountriesWrap.hidden = !countries.length;
    stats.hidden = false;
  } catch {
    // Stats are optional; auth problems surface through the list request.
    stats.hidden = true;
  }
}
