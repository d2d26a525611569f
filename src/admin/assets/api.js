// @ts-check
// The admin API client: one function per endpoint, and the shapes the server answers with
// (src/admin/handlers.rs, src/geo.rs). URLs are relative to the page, served at `{mount}/`.

/** @typedef {'public' | 'private' | 'loopback' | 'unknown'} LocationKind */

/**
 * Where an address is, as the server's geo code decides it (`flag` is set whenever
 * `countryCode` is a two-letter code).
 * @typedef {object} GeoLocation
 * @property {string} ip
 * @property {LocationKind} kind
 * @property {string | null} city
 * @property {string | null} region
 * @property {string | null} country
 * @property {string | null} countryCode
 * @property {string | null} flag
 */

/**
 * @typedef {object} User
 * @property {string} id
 * @property {string} name
 * @property {string} email
 */

/**
 * A session as the admin sees it (never its token). `location` is null in a list until the
 * address has been resolved; the page fills it in once it has.
 * @typedef {object} Session
 * @property {string} id
 * @property {User} user
 * @property {string | null} ipAddress
 * @property {string | null} userAgent
 * @property {GeoLocation | null} location
 * @property {'active' | 'expired'} status
 * @property {string} createdAt
 * @property {string} updatedAt
 * @property {string} expiresAt
 */

/**
 * One page of sessions. `pageSize` is the server's choice when the request names none.
 * @typedef {object} SessionPage
 * @property {number} total at most the server's count limit
 * @property {boolean} totalExact false when `total` is a lower bound
 * @property {number} page
 * @property {number} pageSize
 * @property {Session[]} sessions
 */

/**
 * @typedef {object} CountryCount
 * @property {string} country a name, or "Private network", "Localhost", "Unknown"
 * @property {string} countryCode empty when there is none
 * @property {string} flag empty when there is none
 * @property {number} sessions
 */

/**
 * @typedef {object} Stats
 * @property {number} total
 * @property {number} active
 * @property {number} expired
 * @property {number} usersWithSessions
 * @property {{ user: User, sessions: number }[]} topUsers
 * @property {CountryCount[]} byCountry
 */

/**
 * What the list request asks for; an absent field is the server's default.
 * @typedef {object} ListQuery
 * @property {number} page
 * @property {string} search
 * @property {string} status
 * @property {string} sort
 * @property {string} order
 */

/** @typedef {'sessions' | 'accounts'} SeedKind */

/** An answer other than 2xx (`status` 0: the server could not be reached). */
export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {string | undefined} code the server's `error` field
   * @param {string | undefined} message the server's `message` field
   */
  constructor(status, code, message) {
    super(message || code || `HTTP ${status}`);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

/**
 * True for the rejection of a request that was aborted on purpose.
 * @param {unknown} e
 * @returns {boolean}
 */
export function isAbort(e) {
  return e instanceof DOMException && e.name === 'AbortError';
}

/**
 * @param {string} method
 * @param {string} path under `api/`
 * @param {unknown} [body] sent as JSON
 * @param {AbortSignal} [signal]
 * @returns {Promise<unknown>} the JSON answer, or null when it had none
 */
async function request(method, path, body, signal) {
  /** @type {Record<string, string>} */
  const headers = { accept: 'application/json' };
  /** @type {RequestInit} */
  const init = { method, credentials: 'same-origin', headers, signal: signal ?? null };
  if (body !== undefined) {
    headers['content-type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(new URL(`api/${path}`, document.baseURI), init);
  } catch (e) {
    if (isAbort(e)) throw e;
    throw new ApiError(0, 'network', 'Could not reach the server.');
  }
  /** @type {any} */
  let data = null;
  try {
    data = await res.json();
  } catch (e) {
    if (isAbort(e)) throw e;
    // An empty or non-JSON body.
  }
  if (!res.ok) throw new ApiError(res.status, data?.error, data?.message);
  return data;
}

const id = encodeURIComponent;

/**
 * @param {ListQuery} query
 * @param {AbortSignal} signal
 * @returns {Promise<SessionPage>}
 */
export function listSessions(query, signal) {
  const q = new URLSearchParams({ ...query, page: String(query.page) });
  return /** @type {Promise<SessionPage>} */ (request('GET', `sessions?${q}`, undefined, signal));
}

/**
 * @param {string} sessionId
 * @returns {Promise<Session>}
 */
export function getSession(sessionId) {
  return /** @type {Promise<Session>} */ (request('GET', `sessions/${id(sessionId)}`));
}

/**
 * @param {string} sessionId
 * @returns {Promise<{ revoked: number }>}
 */
export function deleteSession(sessionId) {
  return /** @type {Promise<{ revoked: number }>} */ (request('DELETE', `sessions/${id(sessionId)}`));
}

/**
 * @param {string} userId
 * @returns {Promise<{ revoked: number }>}
 */
export function revokeUserSessions(userId) {
  return /** @type {Promise<{ revoked: number }>} */ (request('DELETE', `users/${id(userId)}/sessions`));
}

/**
 * @param {SeedKind} kind
 * @param {number} count
 * @returns {Promise<{ created: number, failed: number }>}
 */
export function seed(kind, count) {
  return /** @type {Promise<{ created: number, failed: number }>} */ (request('POST', `seed/${kind}`, { count }));
}

/**
 * @param {string} ip
 * @returns {Promise<GeoLocation>}
 */
export function resolveGeo(ip) {
  return /** @type {Promise<GeoLocation>} */ (request('POST', 'geo/resolve', { ip }));
}

/** @returns {Promise<Stats>} */
export function getStats() {
  return /** @type {Promise<Stats>} */ (request('GET', 'stats'));
}

/**
 * True when the answer means "not an admin" (signed out, or signed in without the role).
 * @param {unknown} e
 * @returns {boolean}
 */
export function isAuthError(e) {
  return e instanceof ApiError && (e.status === 401 || e.status === 403);
}

/**
 * A failure as one sentence for the page.
 * @param {unknown} e
 * @returns {string}
 */
export function describeError(e) {
  if (!(e instanceof ApiError)) return `Something went wrong: ${e instanceof Error ? e.message : String(e)}`;
  if (e.status === 401 || (e.status === 403 && e.code !== 'seeding_disabled')) {
    return 'You are not signed in as an admin.';
  }
  if (e.status === 0) return e.message;
  const code = e.code ? ` (${e.code})` : '';
  const msg = e.message && e.message !== e.code ? `: ${e.message}` : '';
  return `Request failed with HTTP ${e.status}${code}${msg}`;
}
